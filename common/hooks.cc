// The hook runner of the admin tool and apppassd (see hooks.h).
#include "hooks.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "files.h"
#include "status.h"

namespace apppass {

namespace {

// run-parts' rule: letters, digits, '_' and '-' only.
bool IsHookName(const char* name) {
  if (*name == '\0') return false;
  for (const char* p = name; *p != '\0'; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

std::int64_t MonotonicMs() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Names of the entries of the open directory `dir_fd` that look like hooks, sorted.
Status ListHookNames(int dir_fd, const std::string& dir, std::vector<std::string>* names) {
  const int fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return Status::Unavailable(fmt::format("cannot read {}: {}", dir, std::strerror(errno)));
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    const int e = errno;
    ::close(fd);
    return Status::Unavailable(fmt::format("cannot read {}: {}", dir, std::strerror(e)));
  }
  errno = 0;
  while (const struct dirent* ent = ::readdir(d)) {
    if (IsHookName(ent->d_name)) names->emplace_back(ent->d_name);
    errno = 0;
  }
  const int e = errno;
  ::closedir(d);
  if (e != 0) return Status::Unavailable(fmt::format("cannot read {}: {}", dir, std::strerror(e)));
  std::sort(names->begin(), names->end());
  return Status::Ok();
}

// The owned pieces of a posix_spawn call.
class SpawnSetup {
 public:
  SpawnSetup() {
    fa_ok_ = posix_spawn_file_actions_init(&fa_) == 0;
    attr_ok_ = posix_spawnattr_init(&attr_) == 0;
  }
  ~SpawnSetup() {
    if (fa_ok_) posix_spawn_file_actions_destroy(&fa_);
    if (attr_ok_) posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // stdin /dev/null, stdout to our stderr, nothing else open, cwd /, own process group,
  // default signal handling, nothing blocked. Returns 0 or an errno value.
  int Prepare() {
    if (!fa_ok_ || !attr_ok_) return ENOMEM;
    int rc = posix_spawn_file_actions_addopen(&fa_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa_, STDERR_FILENO, STDOUT_FILENO);
    // Belt and braces: the store's descriptors are close-on-exec and the store is closed
    // before hooks run; this also covers anything a library left open.
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&fa_, STDERR_FILENO + 1);
    if (rc == 0) rc = posix_spawn_file_actions_addchdir_np(&fa_, "/");
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr_, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr_, &none);
    if (rc == 0) rc = posix_spawnattr_setpgroup(&attr_, 0);
    if (rc == 0)
      rc = posix_spawnattr_setflags(
          &attr_, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    return rc;
  }

  const posix_spawn_file_actions_t* file_actions() const { return &fa_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawn_file_actions_t fa_{};
  posix_spawnattr_t attr_{};
  bool fa_ok_ = false;
  bool attr_ok_ = false;
};

// Runs one hook; returns "" on exit 0, else why it failed ("exit status 3", ...).
std::string RunOne(const std::string& path, const HookEvent& ev, const std::string& db,
                   int timeout_seconds) {
  std::vector<std::string> args = {path, ev.event, ev.user};
  args.insert(args.end(), ev.ids.begin(), ev.ids.end());
  std::vector<std::string> env = {
      std::string("PATH=") + kHookPath,
      "APPPASS_EVENT=" + ev.event,
      "APPPASS_USER=" + ev.user,
      "APPPASS_DB=" + db,
  };
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  SpawnSetup setup;
  int rc = setup.Prepare();
  if (rc != 0) return fmt::format("cannot start: {}", std::strerror(rc));
  pid_t pid = -1;
  rc =
      posix_spawn(&pid, path.c_str(), setup.file_actions(), setup.attr(), argv.data(), envp.data());
  if (rc != 0) return fmt::format("cannot start: {}", std::strerror(rc));

  const std::int64_t deadline = MonotonicMs() + std::int64_t{timeout_seconds} * 1000;
  long nap_ns = 1000000;  // 1 ms, growing to 20 ms
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return fmt::format("cannot wait for it: {}", std::strerror(errno));
    if (MonotonicMs() >= deadline) {
      // The whole group: a shell script's children (doveadm...) go too.
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return fmt::format("timed out after {} s and was killed", timeout_seconds);
    }
    struct timespec nap {
      0, nap_ns
    };
    ::nanosleep(&nap, nullptr);
    nap_ns = std::min(nap_ns * 2, 20000000L);
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 0) return "";
    return fmt::format("exit status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status))
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("ended with wait status {:#x}", status);
}

// Restores SIGCHLD's disposition on scope exit; while it runs, SIGCHLD is SIG_DFL so
// waitpid() sees our children even if we were started with SIGCHLD ignored. Leaves an
// SIG_DFL disposition untouched (no process-wide change in a threaded apppassd).
class DefaultSigchld {
 public:
  DefaultSigchld() {
    if (::sigaction(SIGCHLD, nullptr, &saved_) != 0) return;
    if ((saved_.sa_flags & SA_SIGINFO) == 0 && saved_.sa_handler == SIG_DFL) return;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    saved_ok_ = ::sigaction(SIGCHLD, &dfl, nullptr) == 0;
  }
  ~DefaultSigchld() {
    if (saved_ok_) ::sigaction(SIGCHLD, &saved_, nullptr);
  }
  DefaultSigchld(const DefaultSigchld&) = delete;
  DefaultSigchld& operator=(const DefaultSigchld&) = delete;

 private:
  struct sigaction saved_ {};
  bool saved_ok_ = false;
};

}  // namespace

bool RunHooks(const std::string& given_dir, const HookEvent& ev, const HookWarn& warn,
              int timeout_seconds) {
  const auto Warn = [&warn](const std::string& line) {
    if (warn) warn(line);
  };
  // Hooks run with cwd /, so every path they see is absolute.
  const std::string dir = Absolute(given_dir);
  const std::string db = Absolute(ev.db);
  Fd dir_fd;
  struct stat dir_st {};
  Status s = OpenChecked(dir, FileRule{.directory = true}, &dir_fd, &dir_st);
  if (s.IsNotFound()) return true;  // no hooks directory: no hooks
  if (!s.ok()) {
    Warn(fmt::format("no hooks were run: {}", s.message()));
    return false;
  }
  std::vector<std::string> names;
  if (!(s = ListHookNames(dir_fd.get(), dir, &names)).ok()) {
    Warn(fmt::format("no hooks were run: {}", s.message()));
    return false;
  }
  if (names.empty()) return true;

  // Hooks are executed by path: make sure the path still names the directory checked.
  struct stat now_st {};
  if (::stat(dir.c_str(), &now_st) != 0 || now_st.st_dev != dir_st.st_dev ||
      now_st.st_ino != dir_st.st_ino) {
    Warn(fmt::format("no hooks were run: {} changed while it was being read", dir));
    return false;
  }

  DefaultSigchld sigchld;
  std::fflush(stdout);
  std::fflush(stderr);
  bool all_ok = true;
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    struct stat lst {};
    if (::fstatat(dir_fd.get(), name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    if (S_ISLNK(lst.st_mode)) {
      Warn(
          fmt::format("hook {} was not run: it is a symbolic link; copy the file there "
                      "instead (the change itself was made)",
                      path));
      all_ok = false;
      continue;
    }
    if (!S_ISREG(lst.st_mode) || (lst.st_mode & 0111) == 0) continue;  // not a hook
    Fd hook_fd;
    struct stat st {};
    s = OpenChecked(path, FileRule{}, &hook_fd, &st);
    if (!s.ok()) {
      Warn(fmt::format("hook {} was not run: {} (the change itself was made)", path, s.message()));
      all_ok = false;
      continue;
    }
    hook_fd = Fd();  // close it before the hook runs
    if ((st.st_mode & 0111) == 0) continue;
    const std::string why = RunOne(path, ev, db, timeout_seconds);
    if (!why.empty()) {
      Warn(fmt::format("hook {} failed: {} (the change itself was made)", path, why));
      all_ok = false;
    }
  }
  return all_ok;
}

}  // namespace apppass
