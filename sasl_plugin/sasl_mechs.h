// The PLAIN and LOGIN exchanges of one connection: the client's messages are checked
// (messages.h), the names canonicalized by libsasl, and the password decided by the core
// call (authenticate.h); the result is mapped to a SASL code and logged through the
// application. See sasl_apppass.cc for the codes. A Conn is used by one thread at a time
// (libsasl's contract for a connection); its Plugin is shared (sasl_state.h).
#pragma once

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <string>
#include <string_view>

#include "sasl_state.h"

namespace apppass::sasl {

enum class Mech { kPlain, kLogin };

struct Conn {
  Plugin* plugin = nullptr;
  Mech mech = Mech::kPlain;
  int step = 0;            // LOGIN: 0 start, 1 user name asked, 2 password asked, 3 done
  std::string login_user;  // LOGIN: the user name, until the password arrives
};

// One PLAIN step: the client's only message.
int PlainStep(Conn& c, sasl_server_params_t* sp, std::string_view in, sasl_out_params_t* oparams);

// One LOGIN step: asks for the user name, then the password (`serverout` is the prompt).
int LoginStep(Conn& c, sasl_server_params_t* sp, std::string_view in, const char** serverout,
              unsigned* serveroutlen, sasl_out_params_t* oparams);

}  // namespace apppass::sasl
