#include "server.h"

#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "audit.h"
#include "broker_protocol.h"
#include "caller.h"

namespace apppass::daemon {

namespace {

using broker::LineReader;
using broker::Reply;
using broker::ReplyCode;
using Clock = std::chrono::steady_clock;

// How long a connection being closed after a FAIL is drained, so that the client reads
// the FAIL instead of a reset (closing a socket with unread input resets it).
constexpr std::chrono::milliseconds kDrainTime{250};
constexpr std::size_t kReadChunk = 4096;

// The milliseconds left until `deadline` (0 when passed), for poll.
int MillisLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// What a worker keeps from one connection to the next: the line buffer and the read
// buffer, both locked memory wiped after use.
struct WorkerBuffers {
  std::unique_ptr<LineReader> reader = std::make_unique<LineReader>();
  SecretBuffer chunk{kReadChunk};
};

// One connection being served by one worker.
class Connection {
 public:
  enum class Next { kLine, kClosed, kTimeout, kTooLong, kStopping, kError };

  Connection(int fd, int stop_fd, std::chrono::milliseconds timeout, WorkerBuffers& buffers)
      : fd_(fd), stop_fd_(stop_fd), timeout_(timeout), buf_(buffers) {}
  ~Connection() {
    if (end_ > 0) sodium_memzero(buf_.chunk.data(), end_);
    buf_.reader->Clear();
  }

  // Reads until a whole line is in reader().line(), within the timeout.
  Next ReadLine() {
    const Clock::time_point deadline = Clock::now() + timeout_;
    for (;;) {
      while (pos_ < end_) {
        std::size_t used = 0;
        const std::string_view rest(reinterpret_cast<const char*>(buf_.chunk.data()) + pos_,
                                    end_ - pos_);
        const LineReader::State st = buf_.reader->Feed(rest, &used);
        sodium_memzero(buf_.chunk.data() + pos_, used);
        pos_ += used;
        if (st == LineReader::State::kLine) return Next::kLine;
        if (st == LineReader::State::kTooLong) return Next::kTooLong;
        if (st == LineReader::State::kNoMemory) return Next::kError;
      }
      pos_ = end_ = 0;
      pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      const int n = poll(fds, 2, MillisLeft(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Next::kError;
      // Stopping: a request not read in full yet is not one in flight.
      if (fds[1].revents != 0) return Next::kStopping;
      if (n == 0) return Next::kTimeout;
      const ssize_t got = recv(fd_, buf_.chunk.data(), buf_.chunk.capacity(), MSG_DONTWAIT);
      if (got == 0) return Next::kClosed;
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return errno == ECONNRESET ? Next::kClosed : Next::kError;
      }
      end_ = static_cast<std::size_t>(got);
    }
  }

  LineReader& reader() { return *buf_.reader; }

  // Sends all of `bytes` within the timeout; false when the client did not take them.
  bool Send(std::string_view bytes) {
    const Clock::time_point deadline = Clock::now() + timeout_;
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      pollfd p{fd_, POLLOUT, 0};
      const int left = MillisLeft(deadline);
      if (left == 0 || (poll(&p, 1, left) == 0)) return false;
    }
    return true;
  }

  bool SendReply(const Reply& reply) {
    SecretBuffer line;
    if (!broker::SerializeReply(reply, &line).ok()) {
      // Too long for a line, or out of memory: the request still gets an answer.
      const Reply fail =
          broker::FailReply(reply.id, ReplyCode::kInternal, "the answer does not fit in a line");
      if (!broker::SerializeReply(fail, &line).ok()) return false;
    }
    return Send(line.view());
  }

  bool SendFail(ReplyCode code, std::string message) {
    return SendReply(broker::FailReply(0, code, std::move(message)));
  }

  // Ends the connection after a FAIL the client should still read: no more output, and
  // what it already sent is read and dropped for a moment (a socket closed with unread
  // input is reset, and the client could see the reset before the FAIL).
  void Drain() {
    shutdown(fd_, SHUT_WR);
    const Clock::time_point deadline = Clock::now() + kDrainTime;
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      const int left = MillisLeft(deadline);
      if (left == 0 || poll(&p, 1, left) <= 0) return;
      const ssize_t n = recv(fd_, buf_.chunk.data(), buf_.chunk.capacity(), MSG_DONTWAIT);
      if (n > 0) sodium_memzero(buf_.chunk.data(), static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;
    }
  }

 private:
  const int fd_;
  const int stop_fd_;
  const std::chrono::milliseconds timeout_;
  WorkerBuffers& buf_;
  std::size_t pos_ = 0, end_ = 0;  // unframed bytes in buf_.chunk
};

// The slot of one connection in UidSlots, given back when it ends.
class SlotHold {
 public:
  // `capped`: whether the per-uid cap applies to this caller at all.
  SlotHold(UidSlots& slots, uid_t uid, int max, bool capped)
      : slots_(slots), uid_(uid), held_(!capped || slots.Take(uid, max)), counted_(capped) {}
  ~SlotHold() {
    if (held_ && counted_) slots_.Give(uid_);
  }
  SlotHold(const SlotHold&) = delete;
  SlotHold& operator=(const SlotHold&) = delete;
  bool held() const { return held_; }

 private:
  UidSlots& slots_;
  const uid_t uid_;
  const bool held_;
  const bool counted_;
};

std::string Peer(const Caller& c) { return fmt::format("uid={} pid={}", c.uid, c.pid); }

// Serves one accepted connection to its end.
void Serve(int fd, int stop_fd, const ServerLimits& limits, UidSlots& slots, Handlers& handlers,
           WorkerBuffers& buffers) {
  Caller caller;
  Status s = ReadCaller(fd, &caller);
  if (!s.ok()) {
    Log(LOG_WARNING, fmt::format("connection closed unanswered: {}", s.message()));
    return;
  }
  const bool verifier = limits.verify_gid && InGroup(caller, *limits.verify_gid);
  const bool portal = limits.portal_uid && caller.uid == *limits.portal_uid;
  SlotHold slot(slots, caller.uid, limits.max_per_uid, !verifier && !portal);
  Connection conn(fd, stop_fd, limits.timeout, buffers);
  if (!conn.Send(broker::VersionLine())) return;
  if (!slot.held()) {
    Log(LOG_NOTICE, fmt::format("refused a connection from {}: {} connections of that uid are "
                                "being served (--max-per-uid)",
                                Peer(caller), limits.max_per_uid));
    conn.SendFail(ReplyCode::kUnavailable, "too many connections from this user; try again");
    conn.Drain();
    return;
  }
  bool have_version = false;
  for (;;) {
    switch (conn.ReadLine()) {
      case Connection::Next::kLine: break;
      case Connection::Next::kClosed:
      case Connection::Next::kStopping: return;
      case Connection::Next::kError:
        Log(LOG_WARNING, fmt::format("connection from {} dropped: read error", Peer(caller)));
        return;
      case Connection::Next::kTimeout:
        Log(LOG_INFO, fmt::format("connection from {} dropped: no complete line within {} ms",
                                  Peer(caller), limits.timeout.count()));
        return;
      case Connection::Next::kTooLong:
        Log(LOG_NOTICE, fmt::format("connection from {} dropped: a line over {} bytes",
                                    Peer(caller), broker::kMaxLineLength));
        // The reader stays in its too-long state: this worker gets a fresh one.
        buffers.reader = std::make_unique<LineReader>();
        conn.SendFail(ReplyCode::kTooLong,
                      fmt::format("line longer than {} bytes", broker::kMaxLineLength));
        conn.Drain();
        return;
    }
    const std::string_view line = conn.reader().line();
    if (!have_version) {
      int major = 0, minor = 0;
      const Status v = broker::ParseVersion(line, &major, &minor);
      conn.reader().Clear();
      if (!v.ok()) {
        conn.SendFail(
            v.code() == Status::Code::kUnavailable ? ReplyCode::kVersion : ReplyCode::kInvalid,
            v.message());
        conn.Drain();
        return;
      }
      have_version = true;
      continue;
    }
    broker::Request req;
    Reply fail;
    s = broker::ParseRequest(line, &req, &fail);
    conn.reader().Clear();  // the line may hold a password: wiped as soon as it is parsed
    if (!s.ok()) {
      if (!conn.SendReply(fail)) return;
      continue;
    }
    const Answer answer = handlers.Handle(caller, req);
    bool sent = true;
    for (const Reply& item : answer.items)
      if (sent) sent = conn.SendReply(item);
    if (sent) sent = conn.SendReply(answer.final);
    // After the answer, so the client is not kept waiting; whether or not it took the
    // answer, since the change is committed. This worker is busy for at most
    // kHookTimeoutSeconds per hook; the others go on serving (docs/design.md).
    handlers.RunHooksFor(answer);
    if (!sent) return;
  }
}

}  // namespace

bool UidSlots::Take(uid_t uid, int max) {
  if (uid == 0) return true;
  std::lock_guard<std::mutex> guard(mu_);
  int& n = live_[uid];
  if (n >= max) return false;
  ++n;
  return true;
}

void UidSlots::Give(uid_t uid) {
  if (uid == 0) return;
  std::lock_guard<std::mutex> guard(mu_);
  auto it = live_.find(uid);
  if (it != live_.end() && --it->second <= 0) live_.erase(it);
}

Server::~Server() {
  Stop();
  Wait();
}

Status Server::Start() {
  stop_ = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_.valid()) return Status::Unavailable(fmt::format("eventfd: {}", std::strerror(errno)));
  // Every idle worker wakes for a connection and one wins it: the others must not block in
  // accept, or they would not see Stop.
  const int flags = fcntl(listen_fd_, F_GETFL);
  if (flags < 0 || fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) != 0)
    return Status::Unavailable(fmt::format("listening socket: {}", std::strerror(errno)));
  try {
    for (int i = 0; i < limits_.workers; ++i) workers_.emplace_back([this] { Work(); });
  } catch (const std::exception& e) {
    Stop();
    Wait();
    return Status::Unavailable(fmt::format("cannot start the workers: {}", e.what()));
  }
  return Status::Ok();
}

void Server::Stop() noexcept {
  if (!stop_.valid()) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(stop_.get(), &one, sizeof one);
}

void Server::Wait() {
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void Server::Work() noexcept {
  try {
    WorkerBuffers buffers;
    if (!buffers.chunk.valid()) {
      Log(LOG_ERR, "a worker could not start: no locked memory for its buffers");
      return;
    }
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        Log(LOG_ERR, fmt::format("poll: {}", std::strerror(errno)));
        return;
      }
      if (fds[1].revents != 0) return;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
          continue;
        Log(LOG_ERR, fmt::format("accept: {}", std::strerror(errno)));
        // Out of descriptors or memory: wait a little rather than spin.
        poll(&fds[1], 1, 100);
        continue;
      }
      const Fd conn(fd);
      try {
        Serve(fd, stop_.get(), limits_, slots_, handlers_, buffers);
      } catch (...) {
        Log(LOG_ERR, "connection dropped: internal error (out of memory?)");
      }
    }
  } catch (...) {
    Log(LOG_ERR, "a worker stopped: internal error (out of memory?)");
  }
}

}  // namespace apppass::daemon
