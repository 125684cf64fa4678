#include "pam_signin.h"

#include <security/pam_appl.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace apppass::daemon {

namespace {

std::atomic<int> g_running{0};

// What the PAM thread and the waiting worker share; whoever leaves last frees it.
struct Check {
  std::string service, user, rhost;
  SecretBuffer password;
  bool answered = false;  // the conversation has given the password once
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  PamResult result;
};

int Converse(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
  auto* check = static_cast<Check*>(data);
  if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
  auto* replies =
      static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
  if (replies == nullptr) return PAM_BUF_ERR;
  auto fail = [&](int code) {
    for (int i = 0; i < n; ++i)
      if (replies[i].resp != nullptr) {
        explicit_bzero(replies[i].resp, std::strlen(replies[i].resp));
        std::free(replies[i].resp);
      }
    std::free(replies);
    return code;
  };
  for (int i = 0; i < n; ++i) {
    switch (msg[i]->msg_style) {
      case PAM_PROMPT_ECHO_OFF: {
        if (check->answered) return fail(PAM_CONV_ERR);
        check->answered = true;
        const std::string_view pw = check->password.view();
        char* copy = static_cast<char*>(std::malloc(pw.size() + 1));
        if (copy == nullptr) return fail(PAM_BUF_ERR);
        std::memcpy(copy, pw.data(), pw.size());
        copy[pw.size()] = '\0';
        replies[i].resp = copy;
        break;
      }
      case PAM_ERROR_MSG:
      case PAM_TEXT_INFO: break;
      default: return fail(PAM_CONV_ERR);  // echo-on prompts and anything else
    }
  }
  *resp = replies;
  return PAM_SUCCESS;
}

void NoDelay(int, unsigned, void*) {}

PamResult Run(Check* check) {
  pam_conv conv{Converse, check};
  pam_handle_t* pamh = nullptr;
  int rc = pam_start(check->service.c_str(), check->user.c_str(), &conv, &pamh);
  if (rc != PAM_SUCCESS || pamh == nullptr)
    return {PamOutcome::kUnavailable, fmt::format("pam_start: error {}", rc)};
  PamResult r;
  auto step = [&](const char* what, int code) {
    r.detail = fmt::format("{}: {}", what, pam_strerror(pamh, code));
    switch (code) {
      case PAM_AUTH_ERR:
      case PAM_USER_UNKNOWN:
      case PAM_MAXTRIES:
      case PAM_CRED_INSUFFICIENT:
      case PAM_PERM_DENIED:
      case PAM_ACCT_EXPIRED:
      case PAM_NEW_AUTHTOK_REQD:
      case PAM_AUTHTOK_EXPIRED:
      case PAM_CONV_ERR: r.outcome = PamOutcome::kWrong; break;
      default: r.outcome = PamOutcome::kUnavailable; break;
    }
  };
  rc = pam_set_item(pamh, PAM_RHOST, check->rhost.c_str());
  if (rc == PAM_SUCCESS) rc = pam_set_item(pamh, PAM_RUSER, check->user.c_str());
  if (rc == PAM_SUCCESS)
    rc = pam_set_item(pamh, PAM_FAIL_DELAY, reinterpret_cast<const void*>(&NoDelay));
  if (rc != PAM_SUCCESS) {
    step("pam_set_item", rc);
    r.outcome = PamOutcome::kUnavailable;
  } else if ((rc = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK)) != PAM_SUCCESS) {
    step("authenticate", rc);
  } else if ((rc = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK)) != PAM_SUCCESS) {
    step("account", rc);
  } else {
    r.outcome = PamOutcome::kAccepted;
    r.detail.clear();
  }
  pam_end(pamh, rc);
  return r;
}

}  // namespace

PamResult PamSignIn(const std::string& service, const std::string& user,
                    const SecretBuffer& password, const std::string& rhost,
                    std::chrono::milliseconds timeout) {
  std::shared_ptr<Check> check;
  try {
    check = std::make_shared<Check>();
    check->service = service;
    check->user = user;
    check->rhost = rhost;
    check->password = SecretBuffer(std::max<std::size_t>(password.size(), 1));
    if (!check->password.valid() || !check->password.assign(password.view()))
      return {PamOutcome::kUnavailable, "out of memory"};
  } catch (...) {
    return {PamOutcome::kUnavailable, "out of memory"};
  }
  if (g_running.fetch_add(1) >= kMaxPamThreads) {
    g_running.fetch_sub(1);
    return {PamOutcome::kUnavailable, "too many sign-ins running"};
  }
  try {
    std::thread([check] {
      PamResult r = Run(check.get());
      check->password.clear();
      {
        std::lock_guard<std::mutex> lock(check->mu);
        check->result = std::move(r);
        check->done = true;
      }
      check->done_cv.notify_all();
      g_running.fetch_sub(1);
    }).detach();
  } catch (...) {
    g_running.fetch_sub(1);
    return {PamOutcome::kUnavailable, "cannot start a thread"};
  }
  std::unique_lock<std::mutex> lock(check->mu);
  if (!check->done_cv.wait_for(lock, timeout, [&] { return check->done; }))
    return {PamOutcome::kUnavailable,
            fmt::format("the PAM stack did not answer in {} s", timeout.count() / 1000)};
  return check->result;
}

}  // namespace apppass::daemon
