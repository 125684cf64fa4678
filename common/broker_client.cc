// broker::Call (broker_client.h): one request to apppassd over one non-blocking UNIX
// socket, every step (connect, send, each read) bounded by one steady-clock deadline.
//
// The client sends its version line and the request together (the protocol lets either
// side send before reading), then reads the daemon's version line and the reply lines for
// the request's id. Anything it does not expect is a malformed reply: a broken or hostile
// daemon must never turn into an answer.
#include "broker_client.h"

#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "files.h"

namespace apppass::broker {
namespace {

using Clock = std::chrono::steady_clock;

// A hostile daemon could send ITEM lines until the deadline; this bounds what a call
// holds (a user's list is far shorter: max_active is at most a few hundred).
constexpr std::size_t kMaxItems = 100000;
// How long to wait before retrying a connect refused with EAGAIN (the daemon's listen
// backlog is full: Linux has no way to wait for room on a UNIX socket).
constexpr std::chrono::milliseconds kConnectRetry{10};

// "1.5", "10", "0.25": a timeout in seconds for a message.
std::string Seconds(std::chrono::milliseconds timeout) {
  return fmt::format("{:g}", static_cast<double>(timeout.count()) / 1000.0);
}

std::string ErrnoText(int err) {
  char buf[256];
  return strerror_r(err, buf, sizeof buf);
}

// One call's state: the socket path (for messages), the deadline and the timeout it came
// from.
class Caller {
 public:
  Caller(const std::string& path, std::chrono::milliseconds timeout)
      : path_(path), timeout_(timeout), deadline_(Clock::now() + timeout) {}

  Status Run(const Request& request, CallResult* out);

 private:
  Status Connect();
  Status SendAll(std::string_view bytes);
  Status ReadReplies(std::uint64_t id, CallResult* out);
  // Waits until `events` are ready on the socket or the deadline passes (TimedOut).
  Status Wait(short events);
  // The milliseconds left, rounded up; 0 when the deadline has passed.
  int RemainingMs() const;

  Status TimedOut() const {
    return Status::Unavailable(fmt::format("no answer from the apppass service within {} s ({})",
                                           Seconds(timeout_), path_));
  }
  Status Malformed(std::string_view what) const {
    return Status::Unavailable(
        fmt::format("malformed reply from the apppass service ({}: {})", path_, what));
  }
  Status SocketError(std::string_view op, int err) const {
    return Status::Unavailable(
        fmt::format("cannot talk to the apppass service ({} {}: {})", op, path_, ErrnoText(err)));
  }

  const std::string& path_;
  const std::chrono::milliseconds timeout_;
  const Clock::time_point deadline_;
  Fd fd_;
};

int Caller::RemainingMs() const {
  const auto left = deadline_ - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

Status Caller::Wait(short events) {
  for (;;) {
    const int ms = RemainingMs();
    if (ms == 0) return TimedOut();
    pollfd p{fd_.get(), events, 0};
    const int n = poll(&p, 1, ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SocketError("poll", errno);
    }
    // POLLHUP and POLLERR are "ready" too: the next recv or send says what happened.
    if (n > 0) return Status::Ok();
  }
}

Status Caller::Connect() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path || path_.find('\0') != path_.npos)
    return Status::Unavailable(
        fmt::format("cannot talk to the apppass service (bad socket path {})", path_));
  std::memcpy(addr.sun_path, path_.data(), path_.size());

  fd_ = Fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) return SocketError("socket for", errno);
  for (;;) {
    if (connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
      return Status::Ok();
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED)
      return Status::Unavailable(fmt::format("the apppass service is not running (connect {}: {})",
                                             path_, ErrnoText(err)));
    if (err == EAGAIN) {
      // The backlog is full: retry until the deadline.
      const int ms = RemainingMs();
      if (ms == 0) return TimedOut();
      const int nap = std::min<int>(ms, static_cast<int>(kConnectRetry.count()));
      pollfd none{-1, 0, 0};
      poll(&none, 0, nap);
      continue;
    }
    if (err == EINPROGRESS || err == EINTR) {
      // Completes in the background: wait for it, then read its result.
      Status s = Wait(POLLOUT);
      if (!s.ok()) return s;
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        return SocketError("connect", errno);
      if (so_error == 0) return Status::Ok();
      if (so_error == ENOENT || so_error == ECONNREFUSED)
        return Status::Unavailable(fmt::format(
            "the apppass service is not running (connect {}: {})", path_, ErrnoText(so_error)));
      return SocketError("connect", so_error);
    }
    return SocketError("connect", err);
  }
}

Status Caller::SendAll(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Status s = Wait(POLLOUT);
      if (!s.ok()) return s;
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
      return Status::Unavailable(
          fmt::format("the apppass service closed the connection before answering ({})", path_));
    return SocketError("send to", n < 0 ? errno : EIO);
  }
  return Status::Ok();
}

Status Caller::ReadReplies(std::uint64_t id, CallResult* out) {
  LineReader reader;
  bool have_version = false;
  CallResult result;
  char buf[4096];
  // The read buffer may hold a secret (a CREATE's password): wiped on every way out.
  struct Wipe {
    char* p;
    std::size_t n;
    ~Wipe() { sodium_memzero(p, n); }
  } wipe{buf, sizeof buf};

  for (;;) {
    Status s = Wait(POLLIN);
    if (!s.ok()) return s;
    const ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (errno == ECONNRESET)
        return Status::Unavailable(
            fmt::format("the apppass service closed the connection before answering ({})", path_));
      return SocketError("recv from", errno);
    }
    if (n == 0)
      return Status::Unavailable(
          fmt::format("the apppass service closed the connection before answering ({})", path_));

    std::string_view chunk(buf, static_cast<std::size_t>(n));
    while (!chunk.empty()) {
      std::size_t used = 0;
      const LineReader::State state = reader.Feed(chunk, &used);
      chunk.remove_prefix(used);
      if (state == LineReader::State::kNeedMore) break;
      if (state == LineReader::State::kTooLong) return Malformed("line too long");
      if (state == LineReader::State::kNoMemory) return Status::Internal("out of memory");

      const std::string_view line = reader.line();
      if (!have_version) {
        int major = 0;
        int minor = 0;
        Status v = ParseVersion(line, &major, &minor);
        if (v.code() == Status::Code::kUnavailable)
          return Status::Unavailable(
              fmt::format("the apppass service speaks protocol version {}, this client {} ({})",
                          major, kProtocolMajor, path_));
        if (!v.ok()) return Malformed("no version line");
        have_version = true;
        continue;
      }
      Reply reply;
      if (!ParseReply(line, &reply).ok()) return Malformed("unreadable line");
      if (reply.type == ReplyType::kFail && reply.id == 0 && reply.code == ReplyCode::kVersion)
        return Status::Unavailable(fmt::format(
            "the apppass service does not speak protocol version {} ({})", kProtocolMajor, path_));
      if (reply.id != id) return Malformed("reply to another request");
      if (reply.type == ReplyType::kItem) {
        if (result.items.size() >= kMaxItems) return Malformed("too many items");
        result.items.push_back(std::move(reply));
        continue;
      }
      // OK or FAIL: the last line of this request. Nothing else may follow it: a second
      // final reply or an ITEM after the OK is a broken daemon.
      if (!chunk.empty()) return Malformed("data after the final reply");
      result.final = std::move(reply);
      *out = std::move(result);
      return Status::Ok();
    }
  }
}

Status Caller::Run(const Request& request, CallResult* out) {
  SecretBuffer line;
  Status s = SerializeRequest(request, &line);
  if (!s.ok()) return s;
  // The version line and the request in one buffer, one send in the usual case.
  const std::string_view version = VersionLine();
  SecretBuffer message(version.size() + line.size());
  if (!message.valid()) return Status::Internal("out of memory");
  std::memcpy(message.data(), version.data(), version.size());
  std::memcpy(message.data() + version.size(), line.data(), line.size());
  message.resize(version.size() + line.size());
  line.clear();

  s = Connect();
  if (!s.ok()) return s;
  s = SendAll(message.view());
  message.clear();
  if (!s.ok()) return s;
  return ReadReplies(request.id, out);
}

}  // namespace

std::uint64_t NextRequestId() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1) % kMaxRequestId + 1;
}

Status Call(const std::string& socket_path, const Request& request,
            std::chrono::milliseconds timeout, CallResult* out) noexcept {
  try {
    Caller caller(socket_path, timeout);
    return caller.Run(request, out);
  } catch (...) {
    return Status::Internal("out of memory talking to the apppass service");
  }
}

}  // namespace apppass::broker
