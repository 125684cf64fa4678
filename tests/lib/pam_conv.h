// PAM conversations for the tests: PasswordConv answers with one password (tests/process,
// tests/files, tests/stress); ScriptedConv answers from lists and can fail the way a broken
// application does (tests/pam, tests/faults). Header-only; a conversation's state belongs
// to one transaction.
#pragma once

#include <security/pam_appl.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

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

// The state of a scripted conversation (appdata of ScriptedConvFn): answers to password
// prompts (PAM_PROMPT_ECHO_OFF) from `echo_off` and to user name prompts
// (PAM_PROMPT_ECHO_ON) from `echo_on`, in order; with `repeat` the last answer of a list
// answers every later prompt of its kind. A prompt with no answer left fails the
// conversation (PAM_CONV_ERR). Every prompt is counted, answered or not.
struct ScriptedConv {
  enum class Mode {
    kAnswer,      // answer as above
    kConvErr,     // a conversation with a prompt returns PAM_CONV_ERR
    kNullResp,    // ... returns PAM_SUCCESS with no response array
    kNullAnswer,  // ... returns PAM_SUCCESS with a NULL answer to each prompt
  };
  std::vector<std::string> echo_off, echo_on;
  bool repeat = false;
  Mode mode = Mode::kAnswer;
  std::size_t off_asked = 0, on_asked = 0;

  std::size_t asked() const { return off_asked + on_asked; }
};

inline int ScriptedConvFn(int num_msg, const struct pam_message** msg, struct pam_response** resp,
                          void* appdata) {
  auto* c = static_cast<ScriptedConv*>(appdata);
  if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  using Mode = ScriptedConv::Mode;
  if (c->mode == Mode::kConvErr || c->mode == Mode::kNullResp) {
    int prompts = 0;
    for (int i = 0; i < num_msg; ++i) {
      if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) ++c->off_asked, ++prompts;
      if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON) ++c->on_asked, ++prompts;
    }
    if (prompts > 0 && c->mode == Mode::kConvErr) return PAM_CONV_ERR;
    if (prompts > 0) {
      *resp = nullptr;
      return PAM_SUCCESS;
    }
  }
  auto* r = static_cast<pam_response*>(
      std::calloc(static_cast<std::size_t>(num_msg), sizeof(pam_response)));
  if (r == nullptr) return PAM_BUF_ERR;
  auto fail = [&](int upto, int rc) {
    for (int j = 0; j < upto; ++j) std::free(r[j].resp);
    std::free(r);
    return rc;
  };
  // The next answer from `list` (counted), or nullptr when there is none.
  auto next = [&](const std::vector<std::string>& list, std::size_t& asked) -> const std::string* {
    const std::size_t at = asked++;
    if (at < list.size()) return &list[at];
    return c->repeat && !list.empty() ? &list.back() : nullptr;
  };
  // Only kAnswer and kNullAnswer get here with prompts.
  for (int i = 0; i < num_msg; ++i) {
    const bool off = msg[i]->msg_style == PAM_PROMPT_ECHO_OFF;
    if (!off && msg[i]->msg_style != PAM_PROMPT_ECHO_ON) continue;  // PAM_ERROR_MSG, TEXT_INFO
    const std::string* answer =
        off ? next(c->echo_off, c->off_asked) : next(c->echo_on, c->on_asked);
    if (c->mode == Mode::kNullAnswer) continue;
    if (answer == nullptr) return fail(i, PAM_CONV_ERR);  // nothing left to say
    r[i].resp = strdup(answer->c_str());
    if (r[i].resp == nullptr) return fail(i, PAM_BUF_ERR);
  }
  *resp = r;
  return PAM_SUCCESS;
}

}  // namespace testlib
