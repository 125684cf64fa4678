// The client side of apppassd (broker_protocol.h): one request over one connection, with
// one deadline for everything (connect, handshake, send, every reply line). Used by the
// PAM module and the SASL plugin when they do not run as root, and by `apppass` run as a
// user. Fails closed: a daemon that is not there, slow, or answers anything malformed is
// Unavailable, never a success.
// Thread-safe (no shared state; each call has its own socket).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "broker_protocol.h"
#include "status.h"

namespace apppass::broker {

inline constexpr const char* kDefaultSocket = "/run/apppass/apppassd.sock";
// The deadline of a verification (issue 11: a verifier fails closed within 2 s).
inline constexpr std::chrono::milliseconds kVerifyTimeout{1500};
// The deadline of a self-service request (a create commits to disk).
inline constexpr std::chrono::milliseconds kRequestTimeout{10000};

struct CallResult {
  std::vector<Reply> items;  // ITEM lines, in order
  Reply final;               // the OK or FAIL line
};

// Connects to `socket_path`, handshakes, sends `request` and reads its replies until the
// OK or FAIL for request.id, all before `timeout` has passed. Ok when a final reply was
// read (an OK or a FAIL: see ReplyStatus); Unavailable, with a message that names the
// socket and what went wrong ("the apppass service is not running (connect
// /run/apppass/apppassd.sock: No such file or directory)", "no answer within 1.5 s",
// "malformed reply"), for everything else. Never blocks past the deadline; SIGPIPE is
// never raised (MSG_NOSIGNAL). Secrets sent or received are wiped from every buffer.
Status Call(const std::string& socket_path, const Request& request,
            std::chrono::milliseconds timeout, CallResult* out) noexcept;

// An id for the next request of this process: any 1..kMaxRequestId will do (one request
// per connection); distinct ones make a daemon's log lines easier to follow.
std::uint64_t NextRequestId() noexcept;

}  // namespace apppass::broker
