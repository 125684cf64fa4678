// apppass-web's time limit (server_internal.h): a connection has `timeout` seconds to
// send each request in full, counted from the connection or from the previous response.
// libmicrohttpd's own timeout is an idle timeout, and a client sending one byte a second
// is never idle; so each connection is tracked from NOTIFY_STARTED to NOTIFY_CLOSED and a
// watchdog thread shuts down the socket of every one that is late and whose handler is
// not running (the handler's own time is not the client's).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>

#include "server_internal.h"

namespace apppass::web {

using internal::Clock;
using internal::Connection;

namespace {

constexpr auto kWatchdogTick = std::chrono::milliseconds(250);

}  // namespace

Connection* Server::Impl::ConnOf(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info != nullptr ? static_cast<Connection*>(info->socket_context) : nullptr;
}

void Server::Impl::SetBusy(Connection* conn, bool busy) {
  if (conn == nullptr) return;
  std::lock_guard<std::mutex> lock(mu);
  conn->busy = busy;
  conn->since = Clock::now();  // not busy: the response and the next request start now
}

void Server::Impl::OnConnection(void* cls, MHD_Connection* c, void** socket_context,
                                MHD_ConnectionNotificationCode code) noexcept {
  auto* self = static_cast<Impl*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    auto* conn = new (std::nothrow) Connection;
    if (conn == nullptr) return;  // no deadline for it; libmicrohttpd's idle timeout stays
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    conn->fd = info != nullptr ? fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
    conn->since = Clock::now();
    try {
      std::lock_guard<std::mutex> lock(self->mu);
      self->conns.insert(conn);
    } catch (...) {
      if (conn->fd >= 0) close(conn->fd);
      delete conn;
      return;
    }
    *socket_context = conn;
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    auto* conn = static_cast<Connection*>(*socket_context);
    if (conn == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(self->mu);
      self->conns.erase(conn);
    }
    if (conn->fd >= 0) close(conn->fd);
    delete conn;
    *socket_context = nullptr;
  }
}

void Server::Impl::Watch() {
  const auto limit = std::chrono::seconds(opt.timeout);
  std::unique_lock<std::mutex> lock(mu);
  while (!stopping) {
    cv.wait_for(lock, kWatchdogTick);
    const Clock::time_point now = Clock::now();
    for (Connection* conn : conns) {
      if (conn->busy || conn->cut || conn->fd < 0 || now - conn->since < limit) continue;
      shutdown(conn->fd, SHUT_RDWR);  // libmicrohttpd sees the end and closes it
      conn->cut = true;
    }
  }
}

}  // namespace apppass::web
