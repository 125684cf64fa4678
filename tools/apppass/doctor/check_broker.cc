// The broker check: apppassd's socket (doctor.h Config::socket) exists, is a socket owned
// by root in a directory only root may change, lets users connect (broker_socket.h), and
// the daemon answers: a POLICY_SHOW through broker::Call, with the verifiers' deadline
// (1.5 s). Changes nothing: POLICY_SHOW only reads.
#include <errno.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include "broker_client.h"
#include "doctor/broker_socket.h"
#include "doctor/doctor.h"
#include "doctor/words.h"

namespace apppass::doctor {

std::vector<Finding> CheckBroker(const Config& cfg) {
  SocketFacts facts;
  facts.path = cfg.socket;
  if (lstat(cfg.socket.c_str(), &facts.st) != 0) facts.lstat_errno = errno;
  const std::size_t slash = cfg.socket.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : cfg.socket.substr(0, slash);
  facts.dir_known = lstat(dir.c_str(), &facts.dir) == 0;
  bool can_ask = false;
  std::vector<Finding> out = JudgeBrokerSocket(facts, &can_ask);
  if (!can_ask) return out;

  broker::Request req;
  req.kind = broker::RequestKind::kPolicyShow;
  req.id = 1;
  broker::CallResult reply;
  const Status s = broker::Call(cfg.socket, req, broker::kVerifyTimeout, &reply);
  if (!s.ok()) {
    out.push_back(
        Make("broker", Level::kProblem,
             fmt::format("apppassd not reachable at {}: {}", Clean(cfg.socket), Clean(s.message())),
             kBrokerStartFix));
  } else if (const Status answer = ReplyStatus(reply.final); !answer.ok()) {
    out.push_back(Make("broker", Level::kProblem,
                       fmt::format("apppassd at {} answers, but refuses to show the policy: {}",
                                   Clean(cfg.socket), Clean(answer.message())),
                       "journalctl -u apppassd"));
  } else {
    out.push_back(Make("broker", Level::kOk,
                       fmt::format("apppassd answers at {} (protocol {}.{})", Clean(cfg.socket),
                                   broker::kProtocolMajor, broker::kProtocolMinor)));
  }
  return out;
}

}  // namespace apppass::doctor
