#include "doctor.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "options.h"
#include "sasl_options.h"
#include "store.h"
#include "text.h"
#include "usage.h"

#ifndef APPPASS_DOCTOR_SASL_DIR
#define APPPASS_DOCTOR_SASL_DIR "/usr/lib/x86_64-linux-gnu/sasl2"
#endif
#ifndef APPPASS_DOCTOR_PAM_MODULE_DIR
#define APPPASS_DOCTOR_PAM_MODULE_DIR "/lib/x86_64-linux-gnu/security"
#endif

namespace apppass::doctor {

namespace {

namespace fs = std::filesystem;

constexpr const char* kModuleName = "pam_apppass.so";
constexpr const char* kPluginFile = "libapppass.so";
constexpr int kChildTimeoutMs = 20000;

// ---------------------------------------------------------------------------------------
// Small helpers.

Finding Make(const char* check, Level level, std::string message, std::string fix = "") {
  return Finding{check, level, std::move(message), std::move(fix)};
}

// Text from files or the system made safe for one line: printable ASCII kept, anything
// else as \xHH, cut at `max`.
std::string Clean(std::string_view v, std::size_t max = 200) {
  std::string out;
  for (char ch : v.substr(0, max)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '\\')
      out.push_back(ch);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (v.size() > max) out += "...";
  return out;
}

// A path or word quoted for a shell command in a fix line.
std::string Sh(std::string_view s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_./-+:@%,=", c) != nullptr;
  });
  if (plain) return std::string(s);
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return Clean(out + "'", 300);
}

std::string Mode(mode_t m) { return fmt::format("{:04o}", m & 07777); }

std::string UserName(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return std::to_string(uid);
}

std::string GroupName(gid_t gid) {
  if (const group* gr = ::getgrgid(gid)) return gr->gr_name;
  return std::to_string(gid);
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Reads a configuration file of at most 1 MiB. False (with errno's text) when it cannot.
bool ReadText(const std::string& path, std::string* out, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > (1u << 20)) {
      *err = "larger than 1 MiB";
      return false;
    }
  }
  *out = std::move(text);
  return true;
}

// A directory path for comparing: trailing slashes dropped, symlinks and ".." resolved
// as far as the path exists.
std::string SameDirKey(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::path(dir), ec);
  std::string s = ec ? fs::path(dir).lexically_normal().string() : p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Runs `body` in a forked child and returns what it wrote (its result), or nullopt when
// the child failed, crashed or took longer than the timeout (then `why` says so).
std::optional<std::string> InChild(const std::function<std::string()>& body, std::string* why) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    *why = fmt::format("pipe: {}", std::strerror(errno));
    return std::nullopt;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    *why = fmt::format("fork: {}", std::strerror(errno));
    ::close(p[0]);
    ::close(p[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    ::close(p[0]);
    std::string out;
    try {
      out = body();
    } catch (...) {
      ::_exit(3);
    }
    const char* d = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      const ssize_t w = ::write(p[1], d, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) ::_exit(2);
      d += w;
      left -= static_cast<std::size_t>(w);
    }
    ::_exit(0);  // no atexit handlers, no flushing of the parent's buffers
  }
  ::close(p[1]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kChildTimeoutMs);
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{p[0], POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = r == 0;
      break;
    }
    char buf[4096];
    const ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1u << 20)) break;
  }
  ::close(p[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    *why = "it did not finish in time";
    return std::nullopt;
  }
  if (WIFSIGNALED(status)) {
    *why = fmt::format("it was killed by signal {}", WTERMSIG(status));
    return std::nullopt;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *why = fmt::format("it failed (exit status {})", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return std::nullopt;
  }
  return out;
}

// Runs a program (no shell) and returns its exit status and standard output.
struct ProgramResult {
  bool ran = false;
  int status = -1;
  std::string out;
  std::string why;  // when !ran
};

ProgramResult RunProgram(const std::vector<std::string>& argv) {
  ProgramResult r;
  std::string why;
  auto out = InChild(
      [&argv]() -> std::string {
        int p[2];
        if (::pipe(p) != 0) return "E pipe failed";
        const pid_t pid = ::fork();
        if (pid < 0) return "E fork failed";
        if (pid == 0) {
          ::dup2(p[1], 1);
          const int devnull = ::open("/dev/null", O_RDWR);
          if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 2);
          }
          std::vector<char*> args;
          for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
          args.push_back(nullptr);
          ::execv(args[0], args.data());
          ::_exit(127);
        }
        ::close(p[1]);
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
          if (n > 0 && text.size() < (1u << 16)) text.append(buf, static_cast<std::size_t>(n));
        ::close(p[0]);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        return fmt::format("{} ", code) + text;
      },
      &why);
  if (!out) {
    r.why = why;
    return r;
  }
  if (out->rfind("E ", 0) == 0) {
    r.why = out->substr(2);
    return r;
  }
  const auto sp = out->find(' ');
  r.ran = true;
  r.status = std::atoi(out->substr(0, sp).c_str());
  r.out = out->substr(sp + 1);
  if (r.status == 127) {
    r.ran = false;
    r.why = "it could not be run";
  }
  return r;
}

// Finds a program on PATH (and in the sbin directories).
std::string FindProgram(const std::string& name) {
  std::string path = "/usr/sbin:/usr/bin:/sbin:/bin";
  if (const char* env = std::getenv("PATH")) path = std::string(env) + ":" + path;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    const std::string p = dir + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// ---------------------------------------------------------------------------------------
// The store.

struct StoreFile {
  const char* rel;  // "" for the directory itself
  bool dir;
  mode_t mode;
  bool grouped;  // owned by the verifiers' group (mfa.key is not)
  const char* what;
};

constexpr StoreFile kStoreFiles[] = {
    {"", true, 0750, true, "the store directory"},
    {"key", false, 0640, true, "the password-hash key"},
    {"mfa.key", false, 0600, false, "the key that seals TOTP secrets"},
    {"data.mdb", false, 0640, true, "the credentials database"},
    {"lock.mdb", false, 0660, true, "the credentials database's reader table"},
    {"usage", true, 0750, true, "the last-use directory"},
    {"usage/data.mdb", false, 0660, true, "the last-use database"},
    {"usage/lock.mdb", false, 0660, true, "the last-use reader table"},
};

std::string PathOf(const std::string& db, const char* rel) { return *rel == '\0' ? db : db + "/" + rel; }

// Plain words for permission bits: "its group can write it, everyone can read it".
std::string DescribeBits(mode_t bits, bool dir, bool granted, const std::string& group) {
  std::vector<std::string> out;
  const char* verb = granted ? "can" : "cannot";
  auto add = [&](mode_t mask, const std::string& who, const char* what) {
    if (bits & mask) out.push_back(fmt::format("{} {} {}", who, verb, what));
  };
  const std::string grp = granted ? "its group" : "group " + group;
  add(S_IRUSR, "its owner", dir ? "list it" : "read it");
  add(S_IWUSR, "its owner", dir ? "add files to it" : "write it");
  add(S_IXUSR, "its owner", dir ? "enter it" : "execute it");
  add(S_IRGRP, grp, dir ? "list it" : "read it");
  add(S_IWGRP, grp, dir ? "add or replace files in it" : "write it");
  add(S_IXGRP, grp, dir ? "enter it" : "execute it");
  add(S_IROTH, "everyone", dir ? "list it" : "read it");
  add(S_IWOTH, "everyone", dir ? "add or replace files in it" : "write it");
  add(S_IXOTH, "everyone", dir ? "enter it" : "execute it");
  if (bits & (S_ISUID | S_ISGID | S_ISVTX))
    out.push_back(granted ? "it has set-id or sticky bits" : "set-id or sticky bits are missing");
  return Join(out, ", ");
}

// Checks one file of the store. Returns false when it is missing or not usable at all.
bool CheckStoreFile(const Config& cfg, const StoreFile& f, std::optional<gid_t> want_gid,
                    std::vector<Finding>* out) {
  const std::string path = PathOf(cfg.db, f.rel);
  const std::string p = Clean(path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e != ENOENT) {
      out->push_back(Make("store", Level::kProblem, fmt::format("cannot examine {}: {}", p, std::strerror(e)),
                          "check the permissions of the directories above it"));
      return false;
    }
    const std::string rel = f.rel;
    if (rel == "lock.mdb") {
      out->push_back(Make("store", Level::kProblem,
                          fmt::format("{} ({}) is missing: verifiers cannot open the store", p, f.what),
                          fmt::format("run 'apppass --db {} list' as root once: opening the store for "
                                      "administration recreates it (0660, the group of data.mdb)",
                                      Sh(cfg.db))));
    } else if (rel.rfind("usage", 0) == 0) {
      out->push_back(Make(
          "store", Level::kWarning,
          fmt::format("{} ({}) is missing: last use is not recorded (logins are not affected)", p, f.what),
          "restore it from a backup of the store; apppass init creates it only in a new store"));
    } else {
      out->push_back(Make("store", Level::kProblem,
                          fmt::format("{} ({}) is missing: the store cannot be used", p, f.what),
                          "restore the store from a backup; for a new installation move the directory "
                          "away and run 'apppass init'"));
    }
    return false;
  }
  if (S_ISLNK(st.st_mode)) {
    out->push_back(Make(
        "store", Level::kProblem,
        fmt::format("{} ({}) is a symbolic link; apppass refuses to follow links in the store", p, f.what),
        f.dir ? fmt::format("use the real directory: apppass --db \"$(readlink -f {})\" ..., "
                            "or replace the link with the directory it points to",
                            Sh(path))
              : fmt::format("replace the link with the file itself: cp --remove-destination "
                            "\"$(readlink -f {0})\" {0} && chmod {1} {0}",
                            Sh(path), Mode(f.mode))));
    return false;
  }
  if (f.dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    out->push_back(Make("store", Level::kProblem,
                        fmt::format("{} ({}) is not a {}", p, f.what, f.dir ? "directory" : "regular file"),
                        "move it away and restore the store from a backup"));
    return false;
  }
  bool clean = true;
  const bool owner_ok = st.st_uid == 0 || (::geteuid() != 0 && st.st_uid == ::geteuid());
  if (!owner_ok) {
    clean = false;
    out->push_back(Make("store", Level::kProblem,
                        fmt::format("{} ({}) belongs to {}, not root: apppass refuses it", p, f.what,
                                    Clean(UserName(st.st_uid))),
                        fmt::format("chown root {}", Sh(path))));
  }
  const mode_t have = st.st_mode & 07777;
  const mode_t extra = have & ~f.mode;
  const mode_t missing = f.mode & ~have;
  const std::string grp = cfg.group;
  if (extra != 0) {
    clean = false;
    out->push_back(Make("store", Level::kProblem,
                        fmt::format("{} ({}) has mode {}, expected {}: {}", p, f.what, Mode(have),
                                    Mode(f.mode), DescribeBits(extra, f.dir, true, grp)),
                        fmt::format("chmod {} {}", Mode(f.mode), Sh(path))));
  } else if (missing != 0) {
    clean = false;
    out->push_back(Make("store", Level::kWarning,
                        fmt::format("{} ({}) has mode {}, expected {}: {}; services that verify as members "
                                    "of group {} fail (root is not affected)",
                                    p, f.what, Mode(have), Mode(f.mode),
                                    DescribeBits(missing, f.dir, false, grp), Clean(grp)),
                        fmt::format("chmod {} {}", Mode(f.mode), Sh(path))));
  }
  if (f.grouped && want_gid && st.st_gid != *want_gid) {
    clean = false;
    const bool matters = (have & 070) != 0;
    out->push_back(Make("store", matters ? Level::kProblem : Level::kWarning,
                        fmt::format("{} ({}) has group {}, expected {}{}", p, f.what,
                                    Clean(GroupName(st.st_gid)), Clean(GroupName(*want_gid)),
                                    matters ? fmt::format(": members of {} have the group's access to it",
                                                          Clean(GroupName(st.st_gid)))
                                            : ""),
                        fmt::format("chgrp {} {}", Sh(GroupName(*want_gid)), Sh(path))));
  }
  if (clean)
    out->push_back(Make("store", Level::kOk,
                        fmt::format("{} ({}) is {}:{} {}", p, f.what, Clean(UserName(st.st_uid)),
                                    Clean(GroupName(st.st_gid)), Mode(have))));
  return true;
}

// A core message without its "; fix with: ..." tail (the fix goes on its own line).
std::string WithoutFix(const std::string& msg) {
  const auto pos = msg.find("; fix with: ");
  return Clean(pos == std::string::npos ? msg : msg.substr(0, pos), 300);
}

// The fix for a store that does not open: the problems above, else the core's own fix.
std::string FixFromMessage(const std::string& msg, bool earlier_problems) {
  if (earlier_problems) return "fix the store problems above, then run 'apppass doctor' again";
  const auto pos = msg.find("fix with: ");
  if (pos != std::string::npos) return Clean(msg.substr(pos + 10));
  return "";
}

}  // namespace

std::vector<Finding> CheckStore(const Config& cfg) {
  std::vector<Finding> out;
  const bool root = ::geteuid() == 0;
  std::optional<gid_t> want_gid;
  if (root) {
    if (const group* gr = ::getgrnam(cfg.group.c_str())) {
      want_gid = gr->gr_gid;
    } else {
      want_gid = 0;
      out.push_back(Make("store", Level::kOk,
                         fmt::format("group {} does not exist, so only root can verify app passwords "
                                     "(enough for Dovecot and Postfix, which open the store as root)",
                                     Clean(cfg.group))));
    }
  } else {
    out.push_back(Make("store", Level::kWarning,
                       fmt::format("not running as root (uid {}): the store's group was not checked and "
                                   "files only root can read could not be opened",
                                   ::geteuid()),
                       "run 'apppass doctor' as root"));
  }

  struct stat dst {};
  if (::lstat(cfg.db.c_str(), &dst) != 0 && errno == ENOENT) {
    out.push_back(Make(
        "store", Level::kProblem, fmt::format("store {} does not exist", Clean(cfg.db)),
        fmt::format("create it with 'apppass --db {} init' (or name the right one with --db)", Sh(cfg.db))));
    return out;
  }
  for (const StoreFile& f : kStoreFiles) {
    const bool ok = CheckStoreFile(cfg, f, want_gid, &out);
    if (!ok && *f.rel == '\0') return out;  // the directory itself: nothing else to see
    if (*f.rel == '\0' && !root && ::access(cfg.db.c_str(), X_OK) != 0) {
      out.push_back(Make("store", Level::kWarning,
                         fmt::format("cannot look inside {} as uid {}: its files were not checked",
                                     Clean(cfg.db), ::geteuid()),
                         "run 'apppass doctor' as root"));
      return out;
    }
  }
  const bool earlier = HasProblem(out);

  if (!root && dst.st_uid == 0) return out;  // cannot open a root-owned store
  {
    Store store;
    Status s = Store::Open(cfg.db, Store::Mode::kVerify, &store);
    if (s.ok())
      out.push_back(Make("store", Level::kOk,
                         fmt::format("the store opens for verifying (schema version {}{})", store.schema(),
                                     store.schema() == 1 ? ", records without integrity tags: "
                                                           "the next admin command upgrades it" : "")));
    else
      out.push_back(Make("store", Level::kProblem,
                         fmt::format("the store does not open for verifying: {}", WithoutFix(s.message())),
                         FixFromMessage(s.message(), earlier)));
  }
  struct stat lst {};
  if (::lstat((cfg.db + "/lock.mdb").c_str(), &lst) == 0) {
    // (Opening for administration recreates a missing lock.mdb; the doctor only reads.)
    Store store;
    Status s = Store::Open(cfg.db, Store::Mode::kAdmin, &store);
    if (s.ok())
      out.push_back(Make("store", Level::kOk, "the store opens for administration (mfa.key is readable)"));
    else
      out.push_back(
          Make("store", Level::kProblem,
               fmt::format("the store does not open for administration: {}", WithoutFix(s.message())),
               FixFromMessage(s.message(), earlier)));
  }
  struct stat ust {};
  if (::lstat((cfg.db + "/usage").c_str(), &ust) == 0) {
    UsageDb usage;
    Status s = UsageDb::Open(cfg.db, false, &usage);
    if (!s.ok())
      out.push_back(Make("store", Level::kWarning,
                         fmt::format("the last-use database does not open: {} (logins are not affected)",
                                     WithoutFix(s.message())),
                         FixFromMessage(s.message(), earlier)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Who can open the store.

bool Permits(const Identity& who, const struct stat& st, int want) {
  if (who.uid == 0) return true;
  unsigned bits;
  if (who.uid == st.st_uid) {
    bits = (st.st_mode >> 6) & 7u;
  } else if (who.gid == st.st_gid ||
             std::find(who.groups.begin(), who.groups.end(), st.st_gid) != who.groups.end()) {
    bits = (st.st_mode >> 3) & 7u;
  } else {
    bits = st.st_mode & 7u;
  }
  unsigned need = 0;
  if (want & R_OK) need |= 4;
  if (want & W_OK) need |= 2;
  if (want & X_OK) need |= 1;
  return (bits & need) == need;
}

namespace {

std::optional<Identity> LookupUser(const std::string& name) {
  const passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) return std::nullopt;
  Identity id;
  id.name = pw->pw_name;
  id.uid = pw->pw_uid;
  id.gid = pw->pw_gid;
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) n = 0;
  }
  groups.resize(static_cast<std::size_t>(std::max(n, 0)));
  id.groups = std::move(groups);
  return id;
}

// The first path that keeps `who` from doing what a verifier does (or, with `usage`, from
// recording last use), with what is missing.
struct Block {
  std::string path;
  std::string need;  // "enter", "read", "read and write", "list"
  struct stat st {};
};

std::optional<Block> FirstBlock(const Identity& who, const std::string& db, bool usage) {
  std::vector<std::pair<std::string, int>> needs;
  // Every directory above the store must be searchable.
  const fs::path abs = fs::absolute(fs::path(db)).lexically_normal();
  fs::path cur;
  std::vector<fs::path> parents;
  for (const auto& part : abs.parent_path()) {
    cur /= part;
    parents.push_back(cur);
  }
  for (const auto& d : parents) needs.emplace_back(d.string(), X_OK);
  needs.emplace_back(db, R_OK | X_OK);  // opened O_RDONLY|O_DIRECTORY, then entered
  if (!usage) {
    needs.emplace_back(db + "/key", R_OK);
    needs.emplace_back(db + "/data.mdb", R_OK);
    needs.emplace_back(db + "/lock.mdb", R_OK | W_OK);
  } else {
    needs.emplace_back(db + "/usage", R_OK | X_OK);
    needs.emplace_back(db + "/usage/data.mdb", R_OK | W_OK);
    needs.emplace_back(db + "/usage/lock.mdb", R_OK | W_OK);
  }
  for (const auto& [path, want] : needs) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;  // missing files are the store check's
    if (Permits(who, st, want)) continue;
    Block b;
    b.path = path;
    b.st = st;
    b.need = want == X_OK            ? "enter"
             : want == (R_OK | X_OK) ? "list and enter"
             : want == R_OK          ? "read"
                                     : "read and write";
    return b;
  }
  return std::nullopt;
}

std::string Explain(const Identity& who, const Block& b) {
  const std::string grp = GroupName(b.st.st_gid);
  const bool member = who.gid == b.st.st_gid ||
                      std::find(who.groups.begin(), who.groups.end(), b.st.st_gid) != who.groups.end();
  return fmt::format("{} cannot {} {} ({}:{} {}; {} {} in group {})", Clean(who.name), b.need, Clean(b.path),
                     Clean(UserName(b.st.st_uid)), Clean(grp), Mode(b.st.st_mode), Clean(who.name),
                     member ? "is" : "is not", Clean(grp));
}

// Tries Store::Open(kVerify) as `who` in a child process (root only).
Status TryOpenAs(const Identity& who, const std::string& db) {
  std::string why;
  auto out = InChild(
      [&who, &db]() -> std::string {
        if (::setgroups(who.groups.size(), who.groups.data()) != 0 || ::setgid(who.gid) != 0 ||
            ::setuid(who.uid) != 0 || ::getuid() != who.uid || ::geteuid() != who.uid)
          return fmt::format("E cannot become user {}: {}", who.name, std::strerror(errno));
        Store store;
        const Status s = Store::Open(db, Store::Mode::kVerify, &store);
        return s.ok() ? std::string("O") : "E " + s.message();
      },
      &why);
  if (!out) return Status::Internal(fmt::format("the trial as {} did not finish: {}", who.name, why));
  if (*out == "O") return Status::Ok();
  return Status::Unavailable(out->size() > 2 ? out->substr(2) : "unknown error");
}

// Dovecot's auth worker: the user it runs as ("" or "root": root) and its extra groups.
struct DovecotWorker {
  bool installed = false;
  bool asked = false;  // doveconf answered
  std::string user;    // "" when root
  std::vector<std::string> extra_groups;
  std::string trouble;  // why doveconf could not be asked
};

std::string DoveconfValue(const std::string& doveconf, const std::string& key, bool* ok) {
  ProgramResult r = RunProgram({doveconf, "-h", key});
  if (!r.ran || r.status != 0) {
    *ok = false;
    return r.ran ? fmt::format("exit status {}", r.status) : r.why;
  }
  std::string v = Trim(r.out);
  if (v.size() > 1 && v[0] == '$') {  // e.g. $default_internal_user
    r = RunProgram({doveconf, "-h", v.substr(1)});
    if (!r.ran || r.status != 0) {
      *ok = false;
      return "cannot expand " + v;
    }
    v = Trim(r.out);
  }
  *ok = true;
  return v;
}

DovecotWorker AskDovecot(const Config& cfg) {
  DovecotWorker w;
  const std::string doveconf = cfg.doveconf.empty() ? FindProgram("doveconf") : cfg.doveconf;
  if (doveconf.empty() || ::access(doveconf.c_str(), X_OK) != 0) return w;
  w.installed = true;
  bool ok = false;
  std::string user = DoveconfValue(doveconf, "service/auth-worker/user", &ok);
  if (!ok) {
    w.trouble = fmt::format("'{} -h service/auth-worker/user' failed: {}", doveconf, user);
    return w;
  }
  w.asked = true;
  w.user = user == "root" ? "" : user;
  std::string extra = DoveconfValue(doveconf, "service/auth-worker/extra_groups", &ok);
  if (ok) {
    for (char& c : extra)
      if (c == ',') c = ' ';
    std::stringstream ss(extra);
    std::string g;
    while (ss >> g) w.extra_groups.push_back(g);
  }
  return w;
}

}  // namespace

std::vector<Finding> CheckAccess(const Config& cfg) {
  std::vector<Finding> out;
  struct stat st {};
  if (::lstat(cfg.db.c_str(), &st) != 0) return out;  // the store check said so
  const bool root = ::geteuid() == 0;
  const DovecotWorker worker = AskDovecot(cfg);
  if (!worker.trouble.empty())
    out.push_back(Make("access", Level::kWarning,
                       fmt::format("cannot ask Dovecot which user its auth worker runs as: {}; assuming root "
                                   "(Dovecot's default)",
                                   Clean(worker.trouble)),
                       "check that 'doveconf -n' works"));

  struct Candidate {
    std::string name;
    bool needed;
    std::string role;        // for messages
    std::string not_needed;  // why it needs no access
  };
  std::vector<Candidate> candidates;
  if (!worker.user.empty())
    candidates.push_back({worker.user, true, "the user Dovecot's auth worker runs as", ""});
  if (worker.user != "dovecot")
    candidates.push_back(
        {"dovecot", false, "",
         worker.installed
             ? "Dovecot's auth worker runs PAM as root (service auth-worker { user } is root or unset), "
               "so the dovecot user itself needs no access"
             : "Dovecot is not installed here (no doveconf)"});
  candidates.push_back({"postfix", false, "",
                        "Postfix's smtpd starts the SASL plugin as root, which opens the store before "
                        "smtpd drops to user postfix, so postfix itself needs no access"});

  for (const Candidate& c : candidates) {
    std::optional<Identity> who = LookupUser(c.name);
    if (!who) {
      if (c.needed)
        out.push_back(
            Make("access", Level::kProblem,
                 fmt::format("Dovecot's auth worker runs as user {}, which does not exist", Clean(c.name)),
                 "fix 'service auth-worker { user }' in Dovecot's configuration"));
      continue;  // dovecot or postfix not installed: nothing to say
    }
    if (c.needed) {
      for (const auto& g : worker.extra_groups)
        if (const group* gr = ::getgrnam(g.c_str())) who->groups.push_back(gr->gr_gid);
    }
    const std::optional<Block> block = FirstBlock(*who, cfg.db, false);
    std::optional<Status> trial;
    if (root) trial = TryOpenAs(*who, cfg.db);
    const bool tried = trial && trial->code() != Status::Code::kInternal;
    const bool can = tried ? trial->ok() : !block;
    const std::string how = tried ? fmt::format("tried as {}", Clean(c.name)) : "by the permission bits";
    std::string why;
    if (!can) {
      why = tried ? Clean(trial->message(), 300) : "";
      if (block) why += (why.empty() ? "" : "; ") + Explain(*who, *block);
    }
    const std::string who_text =
        c.needed ? fmt::format("user {} ({})", Clean(c.name), c.role) : fmt::format("user {}", Clean(c.name));
    if (can && c.needed) {
      out.push_back(
          Make("access", Level::kOk, fmt::format("{} can open the store for verifying ({})", who_text, how)));
      // Recording last use needs write access to DIR/usage; not needed for logins.
      if (const auto ub = FirstBlock(*who, cfg.db, true))
        out.push_back(
            Make("access", Level::kWarning,
                 fmt::format("{} cannot record last use: {}", who_text, Explain(*who, *ub)),
                 fmt::format("chgrp -R {0} {1}/usage && chmod 0660 {1}/usage/*.mdb && adduser {2} {0}",
                             Sh(cfg.group), Sh(cfg.db), Sh(c.name))));
    } else if (can) {
      out.push_back(
          Make("access", Level::kOk,
               fmt::format("{} can open the store ({}); it needs not: {}", who_text, how, c.not_needed)));
    } else if (c.needed) {
      std::string fix;
      const group* gr = ::getgrnam(cfg.group.c_str());
      if (gr == nullptr)
        fix =
            fmt::format("groupadd --system {0} && chgrp -R {0} {1} && adduser {2} {0}, then restart Dovecot",
                        Sh(cfg.group), Sh(cfg.db), Sh(c.name));
      else if (block && block->st.st_gid == gr->gr_gid)
        fix = fmt::format("adduser {} {}, then restart Dovecot", Sh(c.name), Sh(cfg.group));
      else
        fix = fmt::format(
            "give the store its documented group and modes (see the store findings), then "
            "adduser {} {} and restart Dovecot",
            Sh(c.name), Sh(cfg.group));
      out.push_back(Make("access", Level::kProblem,
                         fmt::format("{} cannot open the store ({}): {}; every login through Dovecot fails",
                                     who_text, how, why),
                         fix));
    } else {
      out.push_back(Make("access", Level::kOk,
                         fmt::format("user {} cannot open the store ({}); it needs not: {}", Clean(c.name),
                                     how, c.not_needed)));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// PAM.

std::vector<PamEntry> ParsePamFile(std::string_view text, const std::string& file) {
  std::vector<PamEntry> out;
  // Logical lines: a backslash before the newline continues the line.
  std::vector<std::pair<int, std::string>> lines;
  {
    std::string cur;
    int start = 1, n = 0;
    std::size_t i = 0;
    while (i <= text.size()) {
      const std::size_t e = std::min(text.find('\n', i), text.size());
      std::string_view l = text.substr(i, e - i);
      ++n;
      if (cur.empty()) start = n;
      if (!l.empty() && l.back() == '\\') {
        cur.append(l.substr(0, l.size() - 1));
        cur.push_back(' ');
      } else {
        cur.append(l);
        lines.emplace_back(start, std::move(cur));
        cur.clear();
      }
      if (e >= text.size()) break;
      i = e + 1;
    }
    if (!cur.empty()) lines.emplace_back(start, std::move(cur));
  }
  for (auto& [lineno, raw] : lines) {
    std::string line = raw.substr(0, raw.find('#'));
    // Tokens; "[" starts a bracketed token that runs to the matching "]" ("\]" escapes).
    std::vector<std::string> tok;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i >= line.size()) break;
      std::string t;
      if (line[i] == '[') {
        while (i < line.size()) {
          if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == ']') {
            t += ']';
            i += 2;
            continue;
          }
          t += line[i];
          if (line[i++] == ']') break;
        }
      } else {
        while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) t += line[i++];
      }
      tok.push_back(std::move(t));
    }
    if (tok.empty()) continue;
    PamEntry e;
    e.file = file;
    e.line = lineno;
    if (tok[0] == "@include") {
      if (tok.size() < 2) continue;
      e.include = true;
      e.module = tok[1];
      out.push_back(std::move(e));
      continue;
    }
    if (tok.size() < 3) continue;
    std::string type = Lower(tok[0]);
    if (!type.empty() && type[0] == '-') {
      e.dash = true;
      type.erase(0, 1);
    }
    if (type != "auth" && type != "account" && type != "password" && type != "session") continue;
    e.type = type;
    e.control = tok[1][0] == '[' ? tok[1] : Lower(tok[1]);
    e.module = tok[2];
    for (std::size_t k = 3; k < tok.size(); ++k) {
      std::string a = tok[k];
      if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
      e.args.push_back(std::move(a));
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string ControlAction(std::string_view control, std::string_view value) {
  if (control == "required") return value == "success" ? "ok" : "bad";
  if (control == "requisite") return value == "success" ? "ok" : "die";
  if (control == "sufficient") return value == "success" || value == "new_authtok_reqd" ? "done" : "ignore";
  if (control == "optional") return value == "success" || value == "new_authtok_reqd" ? "ok" : "ignore";
  if (control.empty() || control.front() != '[') return "ignore";
  std::string_view body = control.substr(1, control.size() >= 2 ? control.size() - 2 : 0);
  std::map<std::string, std::string> m;
  std::size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
    std::size_t j = i;
    while (j < body.size() && !std::isspace(static_cast<unsigned char>(body[j]))) ++j;
    if (j > i) {
      const std::string_view kv = body.substr(i, j - i);
      const auto eq = kv.find('=');
      if (eq != std::string_view::npos) m[Lower(kv.substr(0, eq))] = Lower(kv.substr(eq + 1));
    }
    i = j;
  }
  if (auto it = m.find(std::string(value)); it != m.end()) return it->second;
  if (auto it = m.find("default"); it != m.end()) return it->second;
  return "bad";  // libpam: a value not named and no default= is "bad"
}

namespace {

bool IsJump(const std::string& action, std::size_t* n) {
  if (action.empty() ||
      !std::all_of(action.begin(), action.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  *n = static_cast<std::size_t>(std::strtoul(action.c_str(), nullptr, 10));
  return true;
}

std::string Basename(const std::string& module) {
  const auto slash = module.rfind('/');
  return slash == std::string::npos ? module : module.substr(slash + 1);
}

// Modules fall in three kinds for what follows a refusal by pam_apppass:
//  - no-ops (kNoOps): answer "ignore" in auth, no effect;
//  - modules that can answer "success" without asking for anything
//    (GrantsWithoutPassword);
//  - everything else (pam_unix, pam_sss, pam_ldap, pam_krb5, pam_deny, pam_oath, ...) is
//    taken to check something: a `required`/`requisite` one still protects the login.

// Modules that never ask for a password in auth and answer "ignore" (no effect).
const std::set<std::string> kNoOps = {
    "pam_env.so",           "pam_faildelay.so", "pam_group.so",     "pam_keyinit.so",  "pam_loginuid.so",
    "pam_mail.so",          "pam_motd.so",      "pam_limits.so",    "pam_umask.so",    "pam_systemd.so",
    "pam_warn.so",          "pam_xauth.so",     "pam_mkhomedir.so", "pam_selinux.so",  "pam_namespace.so",
    "pam_gnome_keyring.so", "pam_kwallet5.so",  "pam_issue.so",     "pam_tty_audit.so"};

// Everything else (pam_permit, pam_rootok, pam_succeed_if, pam_cap, pam_localuser,
// pam_access, pam_shells, pam_faillock, pam_echo, ... ) can answer "success" in auth
// without asking for anything: measured with Linux-PAM 1.5.2 on Debian 12, a failed
// `sufficient` module followed by `optional pam_cap.so` lets pamtester log in.
bool GrantsWithoutPassword(const std::string& base) {
  static const std::set<std::string> kGrant = {
      "pam_permit.so",    "pam_rootok.so",  "pam_succeed_if.so", "pam_cap.so",       "pam_localuser.so",
      "pam_access.so",    "pam_shells.so",  "pam_faillock.so",   "pam_echo.so",      "pam_debug.so",
      "pam_lastlog.so",   "pam_stress.so",  "pam_listfile.so",   "pam_wheel.so",     "pam_time.so",
      "pam_securetty.so", "pam_nologin.so", "pam_usertype.so",   "pam_timestamp.so", "pam_exec.so"};
  return kGrant.count(base) > 0;
}

enum class Walk { kSafe, kGrants, kEnd };

struct WalkResult {
  Walk result = Walk::kEnd;
  const PamEntry* by = nullptr;     // the module that stops (kSafe) or grants (kGrants)
  const PamEntry* first = nullptr;  // the first module reached that checks something
};

// What happens after pam_apppass refuses and the stack goes on at `start`.
WalkResult WalkAfterRefusal(const std::vector<PamEntry>& stack, std::size_t start) {
  WalkResult r;
  const PamEntry* tentative = nullptr;
  std::size_t i = start;
  while (i < stack.size()) {
    const PamEntry& e = stack[i];
    const std::string base = Basename(e.module);
    std::size_t jump = 0;
    if (kNoOps.count(base) > 0) {
      ++i;
      continue;
    }
    if (GrantsWithoutPassword(base)) {
      const std::string a = ControlAction(e.control, "success");
      if (a == "done") return {Walk::kGrants, &e, r.first};
      if (a == "ok" && tentative == nullptr) tentative = &e;
      if (IsJump(a, &jump)) {
        i += jump + 1;
        continue;
      }
      ++i;
      continue;
    }
    // A module that checks something: does its refusal end the stack?
    if (r.first == nullptr) r.first = &e;
    const std::string a = ControlAction(e.control, "auth_err");
    if (a == "bad" || a == "die") return {Walk::kSafe, &e, r.first};
    if (IsJump(a, &jump)) {
      i += jump + 1;
      continue;
    }
    ++i;
  }
  if (tentative != nullptr) return {Walk::kGrants, tentative, r.first};
  return r;
}

std::string Where(const PamEntry& e) { return fmt::format("{} line {}", Clean(e.file), e.line); }

std::string Describe(const PamEntry& e) {
  return fmt::format("{}{} {} {}", e.dash ? "-" : "", e.type, Clean(e.control, 80), Clean(e.module, 120));
}

}  // namespace

std::vector<Finding> AnalyzeAuthEntry(const std::vector<PamEntry>& stack, std::size_t index) {
  std::vector<Finding> out;
  const PamEntry& e = stack[index];
  const std::string where = Where(e);
  const std::string fail = ControlAction(e.control, "auth_err");
  const std::string fail2 = ControlAction(e.control, "authinfo_unavail");
  const std::string succ = ControlAction(e.control, "success");
  const char* kFix =
      "use 'auth required pam_apppass.so' (app passwords only), or '[success=done default=ignore]' "
      "followed by 'auth required pam_unix.so' (app password or real password)";
  for (const std::string& a : {fail, fail2}) {
    if (a == "ok" || a == "done") {
      out.push_back(Make("pam", Level::kProblem,
                         fmt::format("{}: '{}' counts a refusal by pam_apppass as success: anyone gets in",
                                     where, Describe(e)),
                         kFix));
      return out;
    }
  }
  std::size_t jump = 0;
  const bool strict = fail == "bad" || fail == "die";
  if (!strict) {
    std::size_t next = index + 1;
    if (IsJump(fail, &jump)) next += jump;
    const WalkResult w = WalkAfterRefusal(stack, next);
    if (w.result == Walk::kGrants) {
      out.push_back(Make("pam", Level::kProblem,
                         fmt::format("{}: after '{}' refuses, {} ({}) can accept the login without asking "
                                     "for a password: anyone gets in",
                                     where, Describe(e), Clean(Basename(w.by->module)), Where(*w.by)),
                         kFix));
      return out;
    }
    if (e.control == "optional") {
      out.push_back(Make(
          "pam", Level::kWarning,
          fmt::format("{}: '{}': with 'optional' the app password counts only while no other "
                      "module decides{}",
                      where, Describe(e),
                      w.result == Walk::kSafe
                          ? fmt::format(" ({} at {} decides)", Clean(Basename(w.by->module)), Where(*w.by))
                          : ""),
          kFix));
      return out;
    }
  }
  if (succ != "ok" && succ != "done" && !IsJump(succ, &jump)) {
    out.push_back(Make("pam", Level::kWarning,
                       fmt::format("{}: '{}': an accepted app password does not count (success={})", where,
                                   Describe(e), Clean(succ)),
                       kFix));
    return out;
  }
  std::string how;
  if (strict) {
    how = "only app passwords are accepted";
  } else {
    const WalkResult w = WalkAfterRefusal(stack, index + 1 + (IsJump(fail, &jump) ? jump : 0));
    if (w.result == Walk::kSafe && w.first == w.by)
      how = fmt::format("a refusal falls through to {} ({}), which still decides",
                        Clean(Basename(w.by->module)), Where(*w.by));
    else if (w.result == Walk::kSafe)
      how = fmt::format("a refusal falls through to {} ({}); {} ({}) refuses when nothing accepts",
                        Clean(Basename(w.first->module)), Where(*w.first), Clean(Basename(w.by->module)),
                        Where(*w.by));
    else if (w.first != nullptr)
      how = fmt::format("a refusal falls through to {} ({}); the stack fails when nothing accepts",
                        Clean(Basename(w.first->module)), Where(*w.first));
    else
      how = "a refusal ends the stack with a refusal (nothing after it accepts)";
  }
  out.push_back(Make("pam", Level::kOk, fmt::format("{}: '{}': {}", where, Describe(e), how)));
  return out;
}

namespace {

// Services through which app passwords would open a shell or a desktop session.
const std::set<std::string> kInteractive = {
    "common-auth",  "login",    "su",        "su-l",         "sshd",          "sudo",    "sudo-i",
    "other",        "runuser",  "runuser-l", "gdm-password", "gdm-autologin", "lightdm", "sddm",
    "xscreensaver", "polkit-1", "cockpit",   "systemd-user", "chfn",          "chsh",    "passwd",
    "vlock",        "screen",   "kde",       "xrdp-sesman",  "remote",        "atd",     "cron"};

// The auth entries of service file `name`, includes resolved (depth-limited).
void ExpandAuth(const std::string& dir, const std::string& name, int depth, std::set<std::string>* seen,
                std::map<std::string, std::vector<PamEntry>>* cache, std::vector<PamEntry>* out) {
  if (depth > 8 || name.find('/') != std::string::npos || !seen->insert(name).second) return;
  auto it = cache->find(name);
  if (it == cache->end()) {
    std::string text, err;
    std::vector<PamEntry> entries;
    if (ReadText(dir + "/" + name, &text, &err)) entries = ParsePamFile(text, name);
    it = cache->emplace(name, std::move(entries)).first;
  }
  const std::vector<PamEntry> entries = it->second;  // copy: the cache may grow
  for (const PamEntry& e : entries) {
    if (e.include) {
      ExpandAuth(dir, e.module, depth + 1, seen, cache, out);
    } else if (e.type == "auth" && (e.control == "include" || e.control == "substack")) {
      ExpandAuth(dir, e.module, depth + 1, seen, cache, out);
    } else if (e.type == "auth") {
      out->push_back(e);
    }
  }
  seen->erase(name);
}

// The services a "pam_succeed_if.so ... service in a:b:c" guard right before `e` lets
// through to it, when it skips pam_apppass for all others.
std::optional<std::vector<std::string>> GuardedServices(const std::vector<PamEntry>& stack,
                                                        std::size_t index) {
  if (index == 0) return std::nullopt;
  const PamEntry& g = stack[index - 1];
  if (Basename(g.module) != "pam_succeed_if.so" || g.file != stack[index].file) return std::nullopt;
  std::size_t jump = 0;
  if (ControlAction(g.control, "success") != "ignore" ||
      !IsJump(ControlAction(g.control, "auth_err"), &jump) || jump < 1)
    return std::nullopt;
  for (std::size_t k = 0; k + 2 < g.args.size(); ++k) {
    if (g.args[k] == "service" && g.args[k + 1] == "in") {
      std::vector<std::string> services;
      std::stringstream ss(g.args[k + 2]);
      std::string s;
      while (std::getline(ss, s, ':'))
        if (!s.empty()) services.push_back(s);
      return services;
    }
  }
  return std::nullopt;
}

bool ModuleExists(const Config& cfg, const std::string& module, std::string* where) {
  if (!module.empty() && module[0] == '/') {
    *where = module;
    return FileExists(module);
  }
  for (const auto& d : cfg.pam_module_dirs) {
    if (FileExists(d + "/" + module)) {
      *where = d + "/" + module;
      return true;
    }
  }
  *where = cfg.pam_module_dirs.empty() ? module : cfg.pam_module_dirs.front() + "/" + module;
  return false;
}

}  // namespace

std::vector<Finding> CheckPam(const Config& cfg) {
  std::vector<Finding> out;
  std::error_code ec;
  if (!fs::is_directory(cfg.pam_dir, ec)) {
    out.push_back(
        Make("pam", Level::kOk, fmt::format("no PAM configuration directory {}", Clean(cfg.pam_dir))));
    return out;
  }
  std::vector<std::string> names;
  for (const auto& de : fs::directory_iterator(cfg.pam_dir, ec)) {
    std::error_code e2;
    if (!de.is_regular_file(e2)) continue;
    names.push_back(de.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::map<std::string, std::vector<PamEntry>> cache;
  const std::string store_key = SameDirKey(cfg.db);
  // Files other services include: their lines run under the including service's name.
  std::set<std::string> included;
  for (const std::string& name : names) {
    std::string text, err;
    if (!ReadText(cfg.pam_dir + "/" + name, &text, &err)) continue;
    for (const PamEntry& e : ParsePamFile(text, name))
      if (e.include || e.control == "include" || e.control == "substack") included.insert(e.module);
  }
  bool any = false;
  for (const std::string& name : names) {
    std::string text, err;
    if (!ReadText(cfg.pam_dir + "/" + name, &text, &err)) {
      out.push_back(Make("pam", Level::kWarning,
                         fmt::format("cannot read {}/{}: {}", Clean(cfg.pam_dir), Clean(name), Clean(err)),
                         "run 'apppass doctor' as root"));
      continue;
    }
    const std::vector<PamEntry> entries = ParsePamFile(text, name);
    std::vector<const PamEntry*> ours;
    for (const PamEntry& e : entries)
      if (!e.include && Basename(e.module) == kModuleName) ours.push_back(&e);
    if (ours.empty()) continue;
    any = true;
    std::vector<PamEntry> auth_stack;
    std::set<std::string> seen;
    ExpandAuth(cfg.pam_dir, name, 0, &seen, &cache, &auth_stack);
    bool warned_interactive = false;
    for (const PamEntry* e : ours) {
      const std::string where = Where(*e);
      std::vector<Finding> line_findings;
      // Options, exactly as the module parses them.
      std::vector<std::string_view> args(e->args.begin(), e->args.end());
      ModuleOptions opts;
      Status s = ParseModuleOptions(args, &opts);
      if (!s.ok())
        line_findings.push_back(Make(
            "pam", Level::kProblem,
            fmt::format("{}: {}: pam_apppass refuses every login of this service (PAM_SERVICE_ERR)", where,
                        Clean(s.message(), 300)),
            "remove or correct it; the options are db=DIR scope=NAME use_first_pass try_first_pass no_usage "
            "usage_interval=SECONDS debug"));
      else if (SameDirKey(opts.db) != store_key)
        line_findings.push_back(
            Make("pam", Level::kProblem,
                 fmt::format("{}: the module reads the store {}, but this doctor checked {}", where,
                             Clean(opts.db), Clean(cfg.db)),
                 fmt::format("set db={} in {}/{} (or check that store with 'apppass --db {} doctor')",
                             Sh(cfg.db), Clean(cfg.pam_dir), Clean(name), Sh(opts.db))));
      std::string path;
      const bool missing = !ModuleExists(cfg, e->module, &path);
      if (missing)
        line_findings.push_back(Make(
            "pam", e->dash ? Level::kWarning : Level::kProblem,
            fmt::format("{}: {} does not exist{}", where, Clean(path),
                        e->dash ? " (the line is skipped: '-' before the type)" : ": libpam fails this line"),
            "install libpam-apppass, or give the module's full path"));
      if (e->type == "password" || e->type == "session")
        line_findings.push_back(
            Make("pam", Level::kProblem,
                 fmt::format("{}: pam_apppass.so has no '{}' function: libpam reports an error for this line",
                             where, e->type),
                 fmt::format("remove the '{}' line; pam_apppass is an auth and account module", e->type)));
      if (e->type == "auth") {
        // Interactive services: app passwords would open shells and sessions.
        std::size_t index = auth_stack.size();
        for (std::size_t k = 0; k < auth_stack.size(); ++k)
          if (auth_stack[k].file == e->file && auth_stack[k].line == e->line) index = k;
        const auto guard = index < auth_stack.size() ? GuardedServices(auth_stack, index) : std::nullopt;
        std::vector<std::string> exposed;
        if (guard) {
          for (const auto& svc : *guard)
            if (kInteractive.count(svc) > 0) exposed.push_back(svc);
        }
        if (!warned_interactive && ((!guard && kInteractive.count(name) > 0) || !exposed.empty())) {
          warned_interactive = true;
          const std::string what =
              !exposed.empty() ? fmt::format("lets {} use app passwords", Clean(Join(exposed, ", ")))
              : name == "common-auth"
                  ? "stacks pam_apppass.so for every service that includes common-auth (sshd, login, su, "
                    "sudo, ...)"
              : name == "other"
                  ? "stacks pam_apppass.so for every service without its own file"
                  : fmt::format("stacks pam_apppass.so for {}, an interactive login", Clean(name));
          line_findings.push_back(Make(
              "pam", Level::kWarning,
              fmt::format("{}: {}: app passwords are meant for mail clients, not for shells, su or sudo",
                          where, what),
              !exposed.empty() ? fmt::format("take {} out of the 'service in' list of pam_succeed_if.so ({})",
                                             Clean(Join(exposed, ", ")), Where(auth_stack[index - 1]))
              : name == "common-auth"
                  ? "take it out of common-auth (pam-auth-update --remove apppass, if its profile put it "
                    "there) and stack it only in the mail services' files, e.g. /etc/pam.d/imap"
                  : "stack pam_apppass.so only in the mail services' files (e.g. /etc/pam.d/imap)"));
        }
        if (index < auth_stack.size()) {
          for (auto& f : AnalyzeAuthEntry(auth_stack, index)) line_findings.push_back(std::move(f));
        }
        if (guard)
          line_findings.push_back(
              Make("pam", Level::kOk,
                   fmt::format("{}: only services {} reach pam_apppass.so (pam_succeed_if)", where,
                               Clean(Join(*guard, ", ")))));
      } else if (e->type == "account") {
        line_findings.push_back(Make("pam", Level::kOk, fmt::format("{}: '{}'", where, Describe(*e))));
      }
      // A line that is broken or skipped does not do what its ok finding would say.
      if (missing || HasProblem(line_findings))
        line_findings.erase(std::remove_if(line_findings.begin(), line_findings.end(),
                                           [](const Finding& f) { return f.level == Level::kOk; }),
                            line_findings.end());
      // Say which scope app passwords need here, on the line's ok finding.
      for (auto& f : line_findings) {
        if (f.level == Level::kOk && e->type == "auth" && f.message.find("reach") == std::string::npos)
          f.message +=
              fmt::format(" (app passwords need scope {} or none; store {})",
                          !opts.scope.empty()        ? Clean(opts.scope)
                          : included.count(name) > 0 ? "the name of the service that includes " + Clean(name)
                                                     : Clean(name),
                          Clean(opts.db));
        out.push_back(std::move(f));
      }
    }
  }
  if (!any)
    out.push_back(
        Make("pam", Level::kOk, fmt::format("no service in {} stacks pam_apppass.so", Clean(cfg.pam_dir))));
  return out;
}

// ---------------------------------------------------------------------------------------
// Postfix.

std::optional<std::string> SaslConf::Get(std::string_view key) const {
  for (const auto& [k, v] : values)
    if (k == key) return v;  // libsasl2 takes the first
  return std::nullopt;
}

SaslConf ParseSaslConf(std::string_view text) {
  // As lib/config.c of libsasl2 2.1.28: leading blanks skipped, '#' at the start of a line
  // is a comment, the key is [A-Za-z0-9_-] lowercased and followed at once by ':', the
  // value is trimmed and must not be empty; any other line fails sasl_server_init.
  SaslConf conf;
  std::size_t i = 0;
  int lineno = 0;
  while (i <= text.size()) {
    const std::size_t e = std::min(text.find('\n', i), text.size());
    const std::string_view raw = text.substr(i, e - i);
    ++lineno;
    std::size_t p = 0;
    while (p < raw.size() && std::isspace(static_cast<unsigned char>(raw[p]))) ++p;
    if (p < raw.size() && raw[p] != '#') {
      std::size_t k = p;
      while (k < raw.size() &&
             (std::isalnum(static_cast<unsigned char>(raw[k])) || raw[k] == '-' || raw[k] == '_'))
        ++k;
      if (k >= raw.size() || raw[k] != ':') {
        conf.errors.push_back(fmt::format("line {}: '{}' is not 'key: value'", lineno, Clean(Trim(raw), 60)));
      } else {
        const std::string value = Trim(raw.substr(k + 1));
        if (value.empty())
          conf.errors.push_back(
              fmt::format("line {}: empty value for {}", lineno, Clean(raw.substr(p, k - p), 60)));
        else
          conf.values.emplace_back(Lower(raw.substr(p, k - p)), value);
      }
    }
    if (e >= text.size()) break;
    i = e + 1;
  }
  return conf;
}

namespace {

// main.cf: name = value, continued on lines that start with white space; last one wins.
std::map<std::string, std::string> ParseMainCf(std::string_view text) {
  std::map<std::string, std::string> m;
  std::string cur;
  auto flush = [&] {
    const auto eq = cur.find('=');
    if (eq != std::string::npos) m[Trim(cur.substr(0, eq))] = Trim(cur.substr(eq + 1));
    cur.clear();
  };
  std::stringstream ss{std::string(text)};
  std::string line;
  while (std::getline(ss, line)) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (std::isspace(static_cast<unsigned char>(line[0])) && !cur.empty()) {
      cur += " " + t;
    } else {
      flush();
      cur = t;
    }
  }
  flush();
  return m;
}

// master.cf: the "-o name=value" overrides of each service, by service name.
std::vector<std::pair<std::string, std::map<std::string, std::string>>> ParseMasterCf(std::string_view text) {
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
  std::vector<std::string> logical;
  std::stringstream ss{std::string(text)};
  std::string line;
  while (std::getline(ss, line)) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (std::isspace(static_cast<unsigned char>(line[0])) && !logical.empty())
      logical.back() += " " + t;
    else
      logical.push_back(t);
  }
  for (const auto& l : logical) {
    std::stringstream ts(l);
    std::vector<std::string> tok;
    std::string w;
    while (ts >> w) tok.push_back(w);
    if (tok.size() < 8) continue;
    std::map<std::string, std::string> o;
    for (std::size_t k = 8; k < tok.size(); ++k) {
      std::string kv;
      if (tok[k] == "-o" && k + 1 < tok.size()) {
        kv = tok[++k];
      } else if (tok[k].rfind("-o", 0) == 0 && tok[k].size() > 2) {
        kv = tok[k].substr(2);
      } else {
        continue;
      }
      const auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string v = kv.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '{' && v.back() == '}') v = Trim(v.substr(1, v.size() - 2));
      o[kv.substr(0, eq)] = v;
    }
    if (tok[7] == "smtpd") out.emplace_back(tok[0], std::move(o));
  }
  return out;
}

bool Yes(const std::string& v) { return Lower(v) == "yes" || Lower(v) == "true" || v == "1"; }

}  // namespace

std::vector<Finding> CheckPostfix(const Config& cfg, PostfixSasl* sasl) {
  std::vector<Finding> out;
  const std::string maincf_path = cfg.postfix_dir + "/main.cf";
  std::string text, err;
  if (!FileExists(maincf_path)) {
    out.push_back(
        Make("postfix", Level::kOk, fmt::format("postfix not installed (no {})", Clean(maincf_path))));
    return out;
  }
  sasl->installed = true;
  if (!ReadText(maincf_path, &text, &err)) {
    out.push_back(Make("postfix", Level::kWarning,
                       fmt::format("cannot read {}: {}", Clean(maincf_path), Clean(err)),
                       "run 'apppass doctor' as root"));
    return out;
  }
  const auto main = ParseMainCf(text);
  auto get = [&](const std::map<std::string, std::string>& o, const std::string& key,
                 const std::string& def) {
    if (auto it = o.find(key); it != o.end()) return it->second;
    if (auto it = main.find(key); it != main.end()) return it->second;
    return def;
  };
  std::string master_text;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> services;
  if (ReadText(cfg.postfix_dir + "/master.cf", &master_text, &err)) services = ParseMasterCf(master_text);
  if (services.empty()) services.emplace_back("smtp", std::map<std::string, std::string>{});

  // SASL applications (Cyrus config names) in use, with the services that use them.
  std::map<std::string, std::vector<std::string>> apps;
  std::vector<std::string> dovecot_services;
  for (const auto& [svc, o] : services) {
    if (!Yes(get(o, "smtpd_sasl_auth_enable", "no"))) continue;
    const std::string type = Lower(get(o, "smtpd_sasl_type", "cyrus"));
    const std::string path = get(o, "smtpd_sasl_path", "smtpd");
    if (type == "dovecot") {
      dovecot_services.push_back(svc);
    } else if (type == "cyrus") {
      apps[path].push_back(svc);
    } else {
      out.push_back(Make("postfix", Level::kProblem,
                         fmt::format("service {} has smtpd_sasl_type = {}, which Postfix does not know",
                                     Clean(svc), Clean(type)),
                         "set smtpd_sasl_type = cyrus (the apppass SASL plugin) or dovecot"));
    }
  }
  if (!dovecot_services.empty())
    out.push_back(Make("postfix", Level::kOk,
                       fmt::format("{} hand SMTP AUTH to Dovecot (smtpd_sasl_type = dovecot): app passwords "
                                   "go through Dovecot's PAM stack (see the pam findings)",
                                   Clean(Join(dovecot_services, ", ")))));
  // The default config file, even when SMTP AUTH is off: it may name the store.
  if (apps.empty()) {
    const std::string conf_path = cfg.postfix_dir + "/sasl/smtpd.conf";
    std::string ctext;
    if (ReadText(conf_path, &ctext, &err)) {
      const SaslConf conf = ParseSaslConf(ctext);
      if (auto db = conf.Get("apppass_db")) {
        sasl->names_store = true;
        sasl->store = *db;
        out.push_back(
            Make("postfix", Level::kWarning,
                 fmt::format("{} names the store {}, but Postfix does not offer SMTP AUTH through "
                             "Cyrus SASL (smtpd_sasl_auth_enable is not yes)",
                             Clean(conf_path), Clean(*db)),
                 fmt::format("postconf -c {} -e smtpd_sasl_auth_enable=yes smtpd_sasl_type=cyrus && "
                             "postfix reload (or enable it for the submission service in master.cf)",
                             Sh(cfg.postfix_dir))));
        return out;
      }
    }
    if (dovecot_services.empty())
      out.push_back(
          Make("postfix", Level::kOk,
               "Postfix does not offer SMTP AUTH (smtpd_sasl_auth_enable is not yes): app passwords "
               "are not used for SMTP"));
    return out;
  }

  const std::string store_key = SameDirKey(cfg.db);
  for (const auto& [app, svcs] : apps) {
    const std::string conf_path = cfg.postfix_dir + "/sasl/" + app + ".conf";
    const std::string cp = Clean(conf_path);
    const std::string who = fmt::format("Postfix ({})", Clean(Join(svcs, ", ")));
    const std::string write_fix = fmt::format(
        "put 'apppass_db: {}' and 'mech_list: PLAIN LOGIN' in {}, then postfix reload", Clean(cfg.db), cp);
    std::string ctext;
    if (!ReadText(conf_path, &ctext, &err)) {
      out.push_back(Make(
          "postfix", Level::kProblem,
          fmt::format("{} offers SMTP AUTH through Cyrus SASL, but {} {}: app passwords are not "
                      "accepted for SMTP",
                      who, cp, !FileExists(conf_path) ? "does not exist" : "cannot be read: " + Clean(err)),
          write_fix));
      continue;
    }
    const SaslConf conf = ParseSaslConf(ctext);
    for (const auto& e : conf.errors)
      out.push_back(Make("postfix", Level::kProblem,
                         fmt::format("{}: {}: libsasl2 refuses the file, so SMTP AUTH fails", cp, e),
                         "write each setting as 'key: value' (no blank values)"));
    const auto db = conf.Get("apppass_db");
    if (!db) {
      out.push_back(
          Make("postfix", Level::kProblem,
               fmt::format("{} does not name the store (no apppass_db): {} checks SMTP AUTH with the "
                           "stock plugins, which do not accept app passwords",
                           cp, who),
               write_fix));
    } else {
      sasl->names_store = true;
      if (sasl->store.empty()) sasl->store = *db;
      if (SameDirKey(*db) != store_key)
        out.push_back(Make(
            "postfix", Level::kProblem,
            fmt::format("{} names the store {}, but this doctor checked {}", cp, Clean(*db), Clean(cfg.db)),
            fmt::format("set 'apppass_db: {}' in {} and postfix reload (or check that store with "
                        "'apppass --db {} doctor')",
                        Clean(cfg.db), cp, Sh(*db))));
      else
        out.push_back(Make("postfix", Level::kOk,
                           fmt::format("{} reads {}, which names the store {}", who, cp, Clean(*db))));
      // The plugin's own option rules.
      SaslOptions opts;
      const Status s = ParseSaslOptions(
          [&conf](std::string_view key) -> const char* {
            for (const auto& [k, v] : conf.values)
              if (k == key) return v.c_str();
            return nullptr;
          },
          &opts);
      if (!s.ok() && !s.IsNotFound())
        out.push_back(
            Make("postfix", Level::kProblem,
                 fmt::format("{}: {}: the plugin refuses every SMTP login", cp, Clean(s.message(), 300)),
                 "correct the option (see the plugin's man page)"));
    }
    const auto mechs = conf.Get("mech_list");
    if (!mechs) {
      out.push_back(Make("postfix", Level::kWarning,
                         fmt::format("{} has no mech_list: Postfix offers every installed mechanism, and "
                                     "CRAM-MD5, DIGEST-MD5 or SCRAM never accept app passwords",
                                     cp),
                         fmt::format("add 'mech_list: PLAIN LOGIN' to {}, then postfix reload", cp)));
    } else if (const auto foreign = ForeignMechanisms(*mechs); !foreign.empty()) {
      out.push_back(
          Make("postfix", Level::kWarning,
               fmt::format("{}: mech_list also offers {}: only PLAIN and LOGIN can carry an app password, "
                           "so clients that pick another mechanism fail",
                           cp, Clean(Join(foreign, " "))),
               fmt::format("set 'mech_list: PLAIN LOGIN' in {}, then postfix reload", cp)));
    } else {
      out.push_back(Make("postfix", Level::kOk, fmt::format("{}: mech_list is {}", cp, Clean(*mechs))));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The SASL plugin.

namespace {

struct SaslProbe {
  std::string plugin_dir;
  std::string db;
  std::vector<std::string> log;
};

int ProbeGetPath(void* ctx, const char** path) {
  *path = static_cast<SaslProbe*>(ctx)->plugin_dir.c_str();
  return SASL_OK;
}

int ProbeGetOpt(void* ctx, const char*, const char* option, const char** result, unsigned* len) {
  const auto* p = static_cast<SaslProbe*>(ctx);
  const char* v = nullptr;
  if (std::strcmp(option, "apppass_db") == 0) v = p->db.c_str();
  if (std::strcmp(option, "mech_list") == 0) v = "PLAIN LOGIN";
  if (v == nullptr) return SASL_FAIL;
  *result = v;
  if (len != nullptr) *len = static_cast<unsigned>(std::strlen(v));
  return SASL_OK;
}

int ProbeLog(void* ctx, int level, const char* message) {
  auto* p = static_cast<SaslProbe*>(ctx);
  if (level <= SASL_LOG_WARN && message != nullptr && p->log.size() < 20) p->log.emplace_back(message);
  return SASL_OK;
}

template <typename F>
sasl_callback_t Callback(unsigned long id, F* f, void* ctx) {
  return sasl_callback_t{id, reinterpret_cast<int (*)(void)>(reinterpret_cast<void (*)(void)>(f)), ctx};
}

void ProbeInfo(server_sasl_mechanism_t* m, sasl_info_callback_stage_t stage, void* rock) {
  if (stage != SASL_INFO_LIST_MECH || m == nullptr || m->plug == nullptr) return;
  auto* lines = static_cast<std::string*>(rock);
  *lines += fmt::format("M {} {}\n", m->plug->mech_name != nullptr ? m->plug->mech_name : "?",
                        m->plugname != nullptr ? m->plugname : "?");
}

// In a child: libsasl2 loads the plugins of `dir` for an application whose config names
// the store `db`; returns "M MECH PLUGIN" lines in libsasl2's order and "L message" lines.
std::string ProbeSasl(const std::string& dir, const std::string& db) {
  static SaslProbe probe;
  probe.plugin_dir = dir;
  probe.db = db;
  static const sasl_callback_t cbs[] = {Callback(SASL_CB_GETPATH, &ProbeGetPath, &probe),
                                        Callback(SASL_CB_GETOPT, &ProbeGetOpt, &probe),
                                        Callback(SASL_CB_LOG, &ProbeLog, &probe),
                                        {SASL_CB_LIST_END, nullptr, nullptr}};
  std::string lines;
  const int rc = sasl_server_init(cbs, "apppass-doctor");
  if (rc != SASL_OK) {
    lines += fmt::format("I {}\n", sasl_errstring(rc, nullptr, nullptr));
  } else {
    sasl_server_plugin_info(nullptr, &ProbeInfo, &lines);
  }
  // Whether the file itself is a loadable server plugin (libsasl2 says so only at debug
  // level). Its constructors have run already, in this same process.
  const std::string file = dir + "/" + kPluginFile;
  if (void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    if (::dlsym(h, "sasl_server_plug_init") == nullptr)
      lines += "D it does not export sasl_server_plug_init\n";
  } else {
    const char* e = ::dlerror();
    std::string one = e != nullptr ? e : "dlopen failed";
    for (char& c : one)
      if (c == '\n') c = ' ';
    lines += "D it cannot be loaded: " + one + "\n";
  }
  for (const auto& l : probe.log) {
    std::string one = l;
    for (char& c : one)
      if (c == '\n') c = ' ';
    lines += "L " + one + "\n";
  }
  return lines;
}

}  // namespace

std::vector<Finding> CheckSasl(const Config& cfg, const PostfixSasl& postfix) {
  std::vector<Finding> out;
  const std::string plugin = cfg.sasl_dir + "/" + kPluginFile;
  const std::string pp = Clean(plugin);
  struct stat st {};
  if (::stat(plugin.c_str(), &st) != 0) {
    if (postfix.names_store)
      out.push_back(
          Make("sasl", Level::kProblem,
               fmt::format("{} is not installed, but Postfix's SASL config names the store: the stock "
                           "PLAIN and LOGIN ignore apppass_db and do not accept app passwords",
                           pp),
               "install libsasl2-modules-apppass (or copy libapppass.so into libsasl2's plugin "
               "directory), then postfix reload"));
    else
      out.push_back(
          Make("sasl", Level::kOk,
               fmt::format("the SASL plugin is not installed ({} does not exist); nothing configured "
                           "here needs it",
                           pp)));
    return out;
  }
  // libsasl2 loads it into root processes: it must be root's, writable by nobody else.
  for (const std::string& path : {plugin, cfg.sasl_dir}) {
    struct stat s {};
    if (::stat(path.c_str(), &s) != 0) continue;
    if (s.st_uid != 0 || (s.st_mode & (S_IWGRP | S_IWOTH)) != 0)
      out.push_back(Make(
          "sasl", Level::kProblem,
          fmt::format("{} is {}:{} {}: whoever can write it runs code in every SASL server "
                      "(as root in Postfix's smtpd)",
                      Clean(path), Clean(UserName(s.st_uid)), Clean(GroupName(s.st_gid)), Mode(s.st_mode)),
          fmt::format("chown root {0} && chmod go-w {0}", Sh(path))));
  }
  const std::string db = !postfix.store.empty() ? postfix.store : cfg.db;
  std::string why;
  const auto probe = InChild([&] { return ProbeSasl(cfg.sasl_dir, db); }, &why);
  if (!probe) {
    out.push_back(
        Make("sasl", Level::kProblem,
             fmt::format("libsasl2 could not load the plugins of {}: {}", Clean(cfg.sasl_dir), Clean(why)),
             "check the plugin with 'saslpluginviewer -s'; reinstall libsasl2-modules-apppass"));
    return out;
  }
  std::vector<std::pair<std::string, std::string>> mechs;  // (mech, plugin) in libsasl2's order
  std::vector<std::string> logs;
  std::string init_error, load_error;
  std::stringstream ss(*probe);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.rfind("M ", 0) == 0) {
      std::stringstream ls(line.substr(2));
      std::string m, p;
      ls >> m >> p;
      mechs.emplace_back(m, p);
    } else if (line.rfind("L ", 0) == 0) {
      logs.push_back(line.substr(2));
    } else if (line.rfind("I ", 0) == 0) {
      init_error = line.substr(2);
    } else if (line.rfind("D ", 0) == 0) {
      load_error = line.substr(2);
    }
  }
  auto log_hint = [&]() -> std::string {
    if (!load_error.empty()) return ": " + Clean(load_error, 300);
    for (const auto& l : logs)
      if (l.find("apppass") != std::string::npos || l.find(kPluginFile) != std::string::npos)
        return "; libsasl2 said: " + Clean(l, 300);
    return logs.empty() ? "" : "; libsasl2 said: " + Clean(logs.front(), 300);
  };
  if (!init_error.empty()) {
    out.push_back(Make("sasl", Level::kProblem,
                       fmt::format("libsasl2 failed to start with the plugins of {}: {}{}",
                                   Clean(cfg.sasl_dir), Clean(init_error), log_hint()),
                       "check the plugin with 'saslpluginviewer -s'"));
    return out;
  }
  bool all_ok = true;
  std::vector<std::string> order_text;
  std::vector<std::string> unregistered;
  for (const char* mech : {"PLAIN", "LOGIN"}) {
    std::vector<std::string> order;
    for (const auto& [m, p] : mechs)
      if (m == mech) order.push_back(p);
    order_text.push_back(fmt::format("{}: {}", mech, order.empty() ? "none" : Clean(Join(order, ", "))));
    const auto ours = std::find(order.begin(), order.end(), "apppass");
    if (ours == order.end()) {
      all_ok = false;
      unregistered.push_back(mech);
    } else if (ours != order.begin()) {
      all_ok = false;
      out.push_back(
          Make("sasl", Level::kProblem,
               fmt::format("libsasl2 ranks the {} of plugin {} ahead of libapppass.so's: Postfix uses "
                           "that one, which does not accept app passwords",
                           mech, Clean(order.front())),
               fmt::format("remove or update the plugin that provides {} as {} in {}, or update "
                           "libsasl2-modules-apppass",
                           mech, Clean(order.front()), Clean(cfg.sasl_dir))));
    }
  }
  if (!unregistered.empty())
    out.push_back(Make("sasl", Level::kProblem,
                       fmt::format("{} did not register {} for an application that names the store {}{}", pp,
                                   Join(unregistered, " and "), Clean(db), log_hint()),
                       "check the plugin with 'saslpluginviewer -s' and reinstall libsasl2-modules-apppass"));
  if (all_ok)
    out.push_back(
        Make("sasl", Level::kOk,
             fmt::format("{} outranks the stock PLAIN and LOGIN (libsasl2 uses the first of each name; "
                         "{})",
                         pp, Join(order_text, "; "))));
  return out;
}

// ---------------------------------------------------------------------------------------

const char* LevelName(Level level) {
  switch (level) {
    case Level::kOk: return "ok";
    case Level::kWarning: return "warning";
    case Level::kProblem: return "problem";
  }
  return "problem";
}

Config DefaultConfig() {
  Config cfg;
  cfg.db = kDefaultStoreDir;
  cfg.sasl_dir = APPPASS_DOCTOR_SASL_DIR;
  // libpam's module directory; with Debian's merged /usr both spellings are the same.
  const std::string dir = APPPASS_DOCTOR_PAM_MODULE_DIR;
  cfg.pam_module_dirs.push_back(dir);
  if (dir.rfind("/usr/", 0) == 0)
    cfg.pam_module_dirs.push_back(dir.substr(4));
  else
    cfg.pam_module_dirs.push_back("/usr" + dir);
  return cfg;
}

std::vector<Finding> RunAll(const Config& cfg) {
  std::vector<Finding> out;
  auto add = [&out](std::vector<Finding> v) {
    for (auto& f : v) out.push_back(std::move(f));
  };
  add(CheckStore(cfg));
  add(CheckAccess(cfg));
  add(CheckPam(cfg));
  PostfixSasl postfix;
  add(CheckPostfix(cfg, &postfix));
  add(CheckSasl(cfg, postfix));
  return out;
}

bool HasProblem(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.level == Level::kProblem; });
}

std::string FormatText(const std::vector<Finding>& findings) {
  std::string out;
  int n[3] = {0, 0, 0};
  for (const Finding& f : findings) {
    ++n[static_cast<int>(f.level)];
    out += fmt::format("{}: {}\n", LevelName(f.level), TerminalSafe(f.message));
    if (!f.fix.empty()) out += fmt::format("  fix: {}\n", TerminalSafe(f.fix));
  }
  out += fmt::format("summary: {} problem{}, {} warning{}, {} ok\n", n[2], n[2] == 1 ? "" : "s", n[1],
                     n[1] == 1 ? "" : "s", n[0]);
  return out;
}

std::string FormatJson(const std::vector<Finding>& findings) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Finding& f : findings)
    arr.push_back({{"check", f.check},
                   {"status", LevelName(f.level)},
                   {"message", f.message},
                   {"fix", f.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.fix)}});
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace apppass::doctor
