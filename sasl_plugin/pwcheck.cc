#include "pwcheck.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "secret.h"
#include "text.h"

namespace apppass::sasl {

namespace {

using Clock = std::chrono::steady_clock;

PwcheckResult Unavailable(std::string detail) {
  return {PwcheckOutcome::kUnavailable, std::move(detail)};
}

std::string CodeText(int rc) {
  switch (rc) {
    case SASL_FAIL: return "SASL_FAIL";
    case SASL_NOMECH: return "SASL_NOMECH (no such pwcheck_method)";
    case SASL_NOMEM: return "SASL_NOMEM";
    case SASL_BADPARAM: return "SASL_BADPARAM";
    case SASL_UNAVAIL: return "SASL_UNAVAIL";
    case SASL_TRYAGAIN: return "SASL_TRYAGAIN";
    case SASL_NOVERIFY: return "SASL_NOVERIFY";
    case SASL_DISABLED: return "SASL_DISABLED";
    case SASL_EXPIRED: return "SASL_EXPIRED";
    default: return fmt::format("code {}", rc);
  }
}

// Reaps the child: at once when it has exited, else for at most a second after SIGKILL (a
// process stuck in the kernel may take a moment; past that it is left to the application).
void Reap(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return;  // reaped, or ECHILD (reaped elsewhere)
    if (r == 0) usleep(10000);
  }
}

}  // namespace

std::string_view PwcheckOutcomeName(PwcheckOutcome o) {
  switch (o) {
    case PwcheckOutcome::kAccepted: return "accepted";
    case PwcheckOutcome::kWrongPassword: return "wrong-password";
    case PwcheckOutcome::kUnknownUser: return "unknown-user";
    case PwcheckOutcome::kUnavailable: break;
  }
  return "unavailable";
}

PwcheckResult Pwcheck(const sasl_server_params_t* sp, std::string_view user,
                      std::string_view password, std::chrono::milliseconds timeout) {
  if (sp->utils == nullptr || sp->utils->checkpass == nullptr)
    return Unavailable("the SASL library offers no password check");
  // libsasl's verifiers read C strings: NUL-terminated copies, the password's in locked
  // memory that is wiped when this returns (the child's copy dies with it).
  const std::string name(user);
  SecretBuffer pw(password.size() + 1);
  if (!pw.valid() || !pw.assign(password) || !pw.push_back('\0'))
    return Unavailable("out of secure memory");

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return Unavailable(
        fmt::format("cannot make a pipe for the password check: {}", std::strerror(errno)));
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(fds[0]);
    close(fds[1]);
    return Unavailable(fmt::format("cannot fork for the password check: {}", std::strerror(e)));
  }
  if (pid == 0) {
    // The child: libsasl's check, its answer on the pipe, and out without running any of
    // the application's exit handlers or flushing its buffers.
    close(fds[0]);
    const int rc = sp->utils->checkpass(
        sp->utils->conn, name.c_str(), static_cast<unsigned>(name.size()),
        reinterpret_cast<const char*>(pw.data()), static_cast<unsigned>(password.size()));
    const ssize_t n = write(fds[1], &rc, sizeof rc);
    _exit(n == static_cast<ssize_t>(sizeof rc) ? 0 : 1);
  }
  close(fds[1]);
  pw.clear();

  const Clock::time_point deadline = Clock::now() + timeout;
  int rc = 0;
  std::size_t got = 0;
  bool timed_out = false;
  std::string failure;
  while (got < sizeof rc) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int pr = poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      failure = fmt::format("waiting for the password check: {}", std::strerror(errno));
      break;
    }
    if (pr == 0) continue;  // the deadline check above ends the wait
    const ssize_t n = read(fds[0], reinterpret_cast<char*>(&rc) + got, sizeof rc - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failure = "the password check process ended without an answer";
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  close(fds[0]);
  if (got < sizeof rc) kill(pid, SIGKILL);
  Reap(pid);
  if (timed_out)
    return Unavailable(fmt::format(
        "the password check (pwcheck_method) did not answer within {} s and was stopped; "
        "is saslauthd hung?",
        std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  if (got < sizeof rc) return Unavailable(failure);
  switch (rc) {
    case SASL_OK: return {PwcheckOutcome::kAccepted, ""};
    case SASL_BADAUTH: return {PwcheckOutcome::kWrongPassword, ""};
    case SASL_NOUSER: return {PwcheckOutcome::kUnknownUser, ""};
    default:
      return Unavailable(fmt::format(
          "the password check (pwcheck_method) failed: {}; is saslauthd running, is the "
          "sasldb readable?",
          CodeText(rc)));
  }
}

std::string FormatPwcheckDecision(const DecisionContext& ctx, const PwcheckResult& r) {
  const bool accepted = r.outcome == PwcheckOutcome::kAccepted;
  const bool error = r.outcome == PwcheckOutcome::kUnavailable;
  std::string line = fmt::format("{} service={} user={} rhost={}",
                                 accepted ? "accepted"
                                 : error  ? "error"
                                          : "refused",
                                 LogSafe(ctx.service), LogSafe(ctx.user), LogSafe(ctx.rhost, 64));
  if (!accepted) line += fmt::format(" reason={}", PwcheckOutcomeName(r.outcome));
  line += " path=pwcheck";
  if (!r.detail.empty()) line += " detail=" + LogQuoted(r.detail);
  return line;
}

}  // namespace apppass::sasl
