#include "doctor/broker_socket.h"

#include <fmt/format.h>

#include <cstring>

#include "doctor/words.h"

namespace apppass::doctor {

namespace {

Finding F(Level level, std::string message, std::string fix = "") {
  return Finding{"broker", level, std::move(message), std::move(fix)};
}

// The directory part of a path ("/" for "/x", "." for "x").
std::string DirOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

const char* KindOf(mode_t m) {
  if (S_ISREG(m)) return "a regular file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symbolic link";
  if (S_ISFIFO(m)) return "a FIFO";
  return "not a socket";
}

}  // namespace

std::vector<Finding> JudgeBrokerSocket(const SocketFacts& f, bool* can_ask) {
  std::vector<Finding> out;
  *can_ask = false;
  const std::string path = Clean(f.path);
  if (f.lstat_errno != 0) {
    char buf[128];
    out.push_back(F(Level::kProblem,
                    fmt::format("apppassd not reachable at {}: {} (verifiers that do not run "
                                "as root and users' self-service fail)",
                                path, strerror_r(f.lstat_errno, buf, sizeof buf)),
                    kBrokerStartFix));
    return out;
  }
  if (!S_ISSOCK(f.st.st_mode)) {
    out.push_back(F(Level::kProblem,
                    fmt::format("apppassd not reachable at {}: it is {}, not a socket", path,
                                KindOf(f.st.st_mode)),
                    fmt::format("rm {} && systemctl restart apppassd.socket", Sh(f.path))));
    return out;
  }
  *can_ask = true;
  if (f.st.st_uid != 0) {
    out.push_back(F(Level::kProblem,
                    fmt::format("{} is owned by {}, not root: a process of that user, not "
                                "apppassd, may be answering",
                                path, Clean(UserName(f.st.st_uid))),
                    fmt::format("rm {} && systemctl restart apppassd.socket", Sh(f.path))));
  } else if ((f.st.st_mode & 0002) == 0) {
    out.push_back(F(Level::kWarning,
                    fmt::format("{} is mode {}: users other than root{} cannot connect, so "
                                "they cannot verify or manage their app passwords",
                                path, Mode(f.st.st_mode & 07777),
                                (f.st.st_mode & 0020) ? " and its group" : ""),
                    fmt::format("chmod 0666 {} (SocketMode=0666 in apppassd.socket)", Sh(f.path))));
  } else {
    out.push_back(F(Level::kOk, fmt::format("{} is a socket owned by root, mode {}", path,
                                            Mode(f.st.st_mode & 07777))));
  }
  const std::string dir = DirOf(f.path);
  if (f.dir_known) {
    const bool foreign = f.dir.st_uid != 0;
    const bool writable = (f.dir.st_mode & 0022) != 0;
    if (foreign || writable)
      out.push_back(
          F(Level::kProblem,
            fmt::format("{} (the socket's directory) is {}:{} {}: {} could put "
                        "another socket in apppassd's place",
                        Clean(dir), Clean(UserName(f.dir.st_uid)), Clean(GroupName(f.dir.st_gid)),
                        Mode(f.dir.st_mode & 07777), foreign ? "its owner" : "others than root"),
            fmt::format("chown root:root {} && chmod 0755 {}", Sh(dir), Sh(dir))));
  }
  return out;
}

}  // namespace apppass::doctor
