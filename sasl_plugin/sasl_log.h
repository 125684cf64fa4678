// What the plugin tells the application: log lines through its SASL log callback, and the
// error text of a refused exchange. Thread-safe as the application's callbacks are.
#pragma once

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <string>

#include "authenticate.h"

namespace apppass::sasl {

// Logs "apppass: LINE": an application's SASL log mixes all plugins.
void Log(const sasl_utils_t* utils, int level, const std::string& line);

// The SASL log level of a core log line: accepted SASL_LOG_NOTE, refused SASL_LOG_FAIL,
// warning SASL_LOG_WARN, error SASL_LOG_ERR.
int SaslLevel(LogSeverity severity);

// Sets the error text the application may show or log: fixed, never the input. Marked
// SASL_NOLOG: the decision line has been logged already.
void SetError(const sasl_server_params_t* sp, const char* text);

}  // namespace apppass::sasl
