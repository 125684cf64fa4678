// The pure part of the doctor's broker check (check_broker.cc): what lstat says about
// apppassd's socket and the directory it is in. The socket must be a socket owned by root
// (another owner's process could be answering in apppassd's place), in a directory that
// only root may change (else anyone could put another socket there), with a mode that
// lets every user connect (the daemon decides who may do what by SO_PEERCRED; the units
// use SocketMode=0666). No system calls; thread-safe.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "doctor/findings.h"

namespace apppass::doctor {

// The fix for a daemon that is not there.
inline constexpr const char* kBrokerStartFix = "systemctl enable --now apppassd.socket";

struct SocketFacts {
  std::string path;
  int lstat_errno = 0;  // 0 when lstat(path) succeeded: then `st` is its result
  struct stat st {};
  bool dir_known = false;  // lstat of the directory succeeded: `dir` is its result
  struct stat dir {};
};

// Findings of check "broker" for the socket and its directory, in that order. Sets
// *can_ask when it is worth connecting (a socket is there).
std::vector<Finding> JudgeBrokerSocket(const SocketFacts& facts, bool* can_ask);

}  // namespace apppass::doctor
