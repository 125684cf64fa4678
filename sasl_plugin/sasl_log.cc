#include "sasl_log.h"

namespace apppass::sasl {

void Log(const sasl_utils_t* utils, int level, const std::string& line) {
  if (utils != nullptr && utils->log != nullptr)
    utils->log(utils->conn, level, "apppass: %s", line.c_str());
}

int SaslLevel(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo: return SASL_LOG_NOTE;
    case LogSeverity::kNotice: return SASL_LOG_FAIL;
    case LogSeverity::kWarning: return SASL_LOG_WARN;
    case LogSeverity::kError: break;
  }
  return SASL_LOG_ERR;
}

void SetError(const sasl_server_params_t* sp, const char* text) {
  if (sp->utils->seterror != nullptr) sp->utils->seterror(sp->utils->conn, SASL_NOLOG, "%s", text);
}

}  // namespace apppass::sasl
