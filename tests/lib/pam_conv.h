// PasswordConv: the PAM conversation of the tests that answer with one password (tests/
// process, tests/files, tests/stress). Header-only; reentrant (it keeps no state).
#pragma once

#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace testlib {

// Answers every password prompt (PAM_PROMPT_ECHO_OFF) with the std::string `appdata`
// points to, and nothing else (other messages get no response). PAM_CONV_ERR for a bad
// message count, PAM_BUF_ERR when out of memory. Use: pam_conv{PasswordConv, &password}.
inline int PasswordConv(int num_msg, const struct pam_message** msg, struct pam_response** resp,
                        void* appdata) {
  if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  const auto* password = static_cast<const std::string*>(appdata);
  auto* r = static_cast<pam_response*>(
      std::calloc(static_cast<std::size_t>(num_msg), sizeof(pam_response)));
  if (r == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < num_msg; ++i) {
    if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF) continue;
    r[i].resp = strdup(password->c_str());
    if (r[i].resp == nullptr) {
      for (int j = 0; j < i; ++j) std::free(r[j].resp);
      std::free(r);
      return PAM_BUF_ERR;
    }
  }
  *resp = r;
  return PAM_SUCCESS;
}

}  // namespace testlib
