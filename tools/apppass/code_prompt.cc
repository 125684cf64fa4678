// Reading a TOTP verification code for a self-service change (cli.h,
// ReadVerificationCode): from the terminal with echo off, or one line of stdin.
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "cli.h"

namespace apppass::cli {

namespace {

constexpr std::size_t kMaxCodeInput = 64;  // bytes of a line; a TOTP code is 6-8 digits

// The terminal whose echo is off, for the signal handler to restore. Only one prompt is
// ever open at a time (the tool is single-threaded).
volatile sig_atomic_t g_tty_fd = -1;
struct termios g_saved_termios {};
constexpr int kRestoreSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Restores echo, then dies of the signal as it would have (tcsetattr, signal and raise are
// async-signal-safe).
extern "C" void RestoreAndRaise(int sig) {
  const int fd = g_tty_fd;
  if (fd >= 0) tcsetattr(fd, TCSAFLUSH, &g_saved_termios);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Echo off on `fd` for its lifetime, restored by the destructor or by a signal.
class EchoOff {
 public:
  explicit EchoOff(int fd) {
    if (tcgetattr(fd, &g_saved_termios) != 0) return;
    struct sigaction sa {};
    sa.sa_handler = RestoreAndRaise;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(kRestoreSignals); ++i)
      sigaction(kRestoreSignals[i], &sa, &old_[i]);
    g_tty_fd = fd;
    struct termios t = g_saved_termios;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
    t.c_lflag |= ICANON;
    if (tcsetattr(fd, TCSAFLUSH, &t) == 0) active_ = true;
  }
  ~EchoOff() {
    if (g_tty_fd < 0) return;
    if (active_) tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved_termios);
    g_tty_fd = -1;
    for (std::size_t i = 0; i < std::size(kRestoreSignals); ++i)
      sigaction(kRestoreSignals[i], &old_[i], nullptr);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  struct sigaction old_[std::size(kRestoreSignals)]{};
  bool active_ = false;
};

void WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads up to '\n' or end of input, keeping at most kMaxCodeInput bytes that are not
// blanks; *too_long when more came.
Status ReadLine(int fd, SecretBuffer* out, bool* too_long) {
  for (;;) {
    unsigned char c = 0;
    const ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Status::Unavailable(std::string("cannot read the code: ") + std::strerror(errno));
    if (n == 0) return Status::Ok();
    if (c == '\n') return Status::Ok();
    if (c == ' ' || c == '\t' || c == '\r') continue;
    if (!out->push_back(c)) *too_long = true;
  }
}

}  // namespace

Status ReadVerificationCode(SecretBuffer* code, std::string_view prompt) {
  SecretBuffer buf(kMaxCodeInput);
  if (!buf.valid()) return Status::Internal("out of memory for the verification code");
  bool too_long = false;
  Status s;
  if (isatty(STDIN_FILENO)) {
    // The controlling terminal when there is one (what getpass does), else stdin itself.
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    const int in = tty >= 0 ? tty : STDIN_FILENO;
    const int prompt_fd = tty >= 0 ? tty : STDERR_FILENO;
    {
      EchoOff echo_off(in);
      WriteAll(prompt_fd, prompt);
      s = ReadLine(in, &buf, &too_long);
    }
    WriteAll(prompt_fd, "\n");  // the Enter that was not echoed
    if (tty >= 0) close(tty);
  } else {
    s = ReadLine(STDIN_FILENO, &buf, &too_long);
  }
  if (!s.ok()) return s;
  if (too_long) return Status::InvalidArgument("the verification code is too long");
  if (buf.size() == 0)
    return Status::InvalidArgument(
        "no verification code given (type the current code from your authenticator app at the "
        "prompt, or give it on stdin)");
  *code = std::move(buf);
  return Status::Ok();
}

}  // namespace apppass::cli
