// Helpers shared by the fault tests (tests/faults): the injection library's controls,
// running one case in a child process, damaging copies of a store, and a process that
// fills LMDB's reader table. Reporting, the admin tool and TOTP codes come from
// tests/lib (report.h, store_fixture.h). Header-only: each test program is one translation unit.
#pragma once

#include <dlfcn.h>
#include <grp.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../lib/report.h"
#include "../lib/store_fixture.h"

namespace faults {

using testlib::Die;
using testlib::Report;

// ---------------------------------------------------------------------------------------
// The injection library (fault_inject.cc), preloaded into this process.

struct FaultStats {
  long allocations = 0;  // counted since the last reload
  long fired_at = 0;     // the allocation that failed, 0 when none did
  long marker = -1;      // allocations counted when the verifier's read transaction ended
};

inline bool FaultLibLoaded() { return dlsym(RTLD_DEFAULT, "apppass_fault_reload") != nullptr; }

// Sets the library's variables and makes it read them (and reset its counters).
inline void FaultSet(long alloc_nth, bool sodium_init_fails) {
  if (alloc_nth > 0) setenv("APPPASS_FAULT_ALLOC_NTH", std::to_string(alloc_nth).c_str(), 1);
  else unsetenv("APPPASS_FAULT_ALLOC_NTH");
  if (sodium_init_fails) setenv("APPPASS_FAULT_SODIUM_INIT", "1", 1);
  else unsetenv("APPPASS_FAULT_SODIUM_INIT");
  auto reload = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "apppass_fault_reload"));
  if (reload == nullptr) Die("libapppass_fault.so is not preloaded");
  reload();
}

inline FaultStats FaultGet() {
  FaultStats s;
  auto get = reinterpret_cast<void (*)(FaultStats*)>(dlsym(RTLD_DEFAULT, "apppass_fault_stats"));
  if (get == nullptr) Die("libapppass_fault.so is not preloaded");
  get(&s);
  return s;
}

// ---------------------------------------------------------------------------------------
// One case in a child process: a crash, a sanitizer report or a hang ends the child, not
// the test. The child's body returns a line of text for the parent.

struct ChildResult {
  bool exited = false;  // exited normally with status 0 and said something
  int status = -1;      // exit status when it exited
  int signal = 0;       // the signal that ended it
  bool timed_out = false;
  std::string out;
  std::string Describe() const {
    if (timed_out) return "hung (killed after the time limit)";
    if (signal != 0)
      return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
    if (!exited) return "exited with status " + std::to_string(status);
    return "ok";
  }
};

inline ChildResult RunChild(const std::function<std::string()>& body, int timeout_s = 60) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) Die("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    close(fds[0]);
    std::string out;
    try {
      out = body();
    } catch (const std::exception& e) {
      out = std::string("exception: ") + e.what();
    }
    out += "\n";
    const char* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      const ssize_t n = write(fds[1], p, left);
      if (n <= 0) _exit(3);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    std::fflush(nullptr);
    _exit(0);
  }
  close(fds[1]);
  ChildResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const int pr = poll(&pfd, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.out.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(st)) r.signal = WTERMSIG(st);
  if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
  r.exited = !r.timed_out && WIFEXITED(st) && r.status == 0 && !r.out.empty();
  if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r;
}

// Drops to uid/gid 65534 (nobody/nogroup) with no supplementary groups. Child only.
inline bool BecomeNobody() {
  return setgroups(0, nullptr) == 0 && setresgid(65534, 65534, 65534) == 0 &&
         setresuid(65534, 65534, 65534) == 0;
}

// ---------------------------------------------------------------------------------------
// Store copies and damage.

inline void Sh(const std::vector<std::string>& args) {
  const testlib::RunResult r = testlib::Run(args);
  if (r.status != 0) Die(testlib::Tool::Join(args) + " failed");
}

// A fresh copy of `src` at `dst` (modes and owners kept).
inline void CopyStore(const std::string& src, const std::string& dst) {
  Sh({"/bin/rm", "-rf", dst});
  Sh({"/bin/cp", "-a", src, dst});
}

// A fresh copy of `src` at `dst` as an apppass before issue 11 gave the store to the mail
// services' group (here 65534, nogroup): directory and usage 0750, key and data.mdb 0640,
// lock.mdb 0660, owner root. Readable by uid 65534 (and still refused: the store is root's
// alone now).
inline void CopyStoreForNobody(const std::string& src, const std::string& dst) {
  CopyStore(src, dst);
  const struct {
    const char* name;
    mode_t mode;
  } files[] = {
      {"", 0750}, {"/key", 0640}, {"/data.mdb", 0640}, {"/lock.mdb", 0660}, {"/usage", 0750}};
  for (const auto& [name, mode] : files) {
    const std::string path = dst + name;
    if (chown(path.c_str(), 0, 65534) != 0 || chmod(path.c_str(), mode) != 0)
      Die("cannot chown " + path);
  }
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Writes `bytes` at `offset` of `path` in place (same inode, as a disk error would).
inline void Patch(const std::string& path, std::size_t offset, const std::string& bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) !=
                    static_cast<ssize_t>(bytes.size()))
    Die("cannot patch " + path);
  close(fd);
}

inline void Truncate(const std::string& path, off_t size) {
  if (truncate(path.c_str(), size) != 0) Die("cannot truncate " + path);
}

inline std::size_t FileSize(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) Die("cannot stat " + path);
  return static_cast<std::size_t>(st.st_size);
}

// Every offset where `needle` occurs in the file.
inline std::vector<std::size_t> FindAll(const std::string& path, const std::string& needle) {
  const std::string data = ReadAll(path);
  std::vector<std::size_t> at;
  for (std::size_t p = data.find(needle); p != std::string::npos; p = data.find(needle, p + 1))
    at.push_back(p);
  return at;
}

constexpr std::size_t kPage = 4096;  // LMDB's page size here (the OS page size)

// The named, deterministic kinds of damage to a store's data.mdb. `cred_id` is the id of a
// credential the test will try (its record is the one damaged by the record cases).
struct Damage {
  std::string name;
  std::function<void(const std::string& data_mdb)> apply;
};

inline std::vector<Damage> DeterministicDamage(const std::string& cred_id) {
  const std::string rec = "\"id\":\"" + cred_id + "\"";
  return {
      {"both meta pages zeroed",
       [](const std::string& f) { Patch(f, 0, std::string(2 * kPage, '\0')); }},
      {"wrong magic in both meta pages",
       [](const std::string& f) {
         Patch(f, 16, "\xde\xad\xbe\xef");
         Patch(f, kPage + 16, "\xde\xad\xbe\xef");
       }},
      {"data.mdb truncated to one page", [](const std::string& f) { Truncate(f, kPage); }},
      {"data.mdb truncated to its two meta pages",
       [](const std::string& f) { Truncate(f, 2 * kPage); }},
      {"data.mdb truncated to half",
       [](const std::string& f) {
         Truncate(f, static_cast<off_t>(FileSize(f) / 2 / kPage * kPage));
       }},
      {"data.mdb empty", [](const std::string& f) { Truncate(f, 0); }},
      {"data.mdb zeroed (same size)",
       [](const std::string& f) { Patch(f, 0, std::string(FileSize(f), '\0')); }},
      {"credential record garbled (not JSON)",
       [rec](const std::string& f) {
         const std::string data = ReadAll(f);
         for (std::size_t p : FindAll(f, rec)) {
           const std::size_t open = data.rfind('{', p);
           Patch(f, open, "\xff\xfe\x01");
         }
       }},
      // One bit: "revoked" becomes "rewoked", a field decoders ignore, so the record
      // still decodes; its integrity tag (common/record_tag.h) no longer matches.
      {"one bit flipped in the credential record (still decodes)",
       [rec](const std::string& f) {
         const std::string data = ReadAll(f);
         for (std::size_t p : FindAll(f, rec)) {
           const std::size_t r = data.find("\"revoked\"", p);
           if (r != std::string::npos)
             Patch(f, r + 3, std::string(1, static_cast<char>(data[r + 3] ^ 0x01)));
         }
       }},
      {"credential record of a newer version (\"v\":9)",
       [rec](const std::string& f) {
         const std::string data = ReadAll(f);
         for (std::size_t p : FindAll(f, rec)) {
           const std::size_t v = data.find("\"v\":1", p);
           if (v != std::string::npos) Patch(f, v, "\"v\":9");
         }
       }},
  };
}

// Random garbage (1..64 bytes) at a random place of a random data page (not the meta
// pages): LMDB trusts page contents, so this may crash the reader; the tests count it.
inline std::string RandomDamage(const std::string& f, std::mt19937_64& rng) {
  const std::size_t pages = FileSize(f) / kPage;
  if (pages <= 2) return "no data pages";
  const std::size_t page = 2 + rng() % (pages - 2);
  const std::size_t len = 1 + rng() % 64;
  const std::size_t off = rng() % (kPage - len);
  std::string bytes(len, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  Patch(f, page * kPage + off, bytes);
  return "page " + std::to_string(page) + " offset " + std::to_string(off) + " " +
         std::to_string(len) + " bytes";
}

// ---------------------------------------------------------------------------------------
// A process that holds read transactions on a store until released: with `leave` = 0 it
// fills LMDB's reader table (126 slots by default); with `leave` = 1 it leaves one slot.

class ReaderHog {
 public:
  ReaderHog(const std::string& store_dir, int leave) {
    int ready[2], release[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(release, O_CLOEXEC) != 0) Die("pipe failed");
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0) Die("fork failed");
    if (pid_ == 0) {
      close(ready[0]);
      close(release[1]);
      MDB_env* env = nullptr;
      int held = 0;
      std::vector<MDB_txn*> txns;
      if (mdb_env_create(&env) == MDB_SUCCESS &&
          mdb_env_open(env, store_dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0) == MDB_SUCCESS) {
        for (;;) {
          MDB_txn* t = nullptr;
          if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &t) != MDB_SUCCESS) break;
          txns.push_back(t);
        }
        for (int i = 0; i < leave && !txns.empty(); ++i) {
          mdb_txn_abort(txns.back());
          txns.pop_back();
        }
        held = static_cast<int>(txns.size());
      }
      const std::string msg = std::to_string(held) + "\n";
      if (write(ready[1], msg.data(), msg.size()) < 0) _exit(1);
      char c;
      while (read(release[0], &c, 1) < 0 && errno == EINTR) {
      }
      // Give the slots back, so that no stale reader entry outlives the hog.
      for (MDB_txn* t : txns) mdb_txn_abort(t);
      if (env != nullptr) mdb_env_close(env);
      _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    release_ = release[1];
    char buf[32] = {};
    ssize_t n;
    while ((n = read(ready[0], buf, sizeof buf - 1)) < 0 && errno == EINTR) {
    }
    close(ready[0]);
    held_ = n > 0 ? std::atoi(buf) : 0;
  }
  ~ReaderHog() {
    close(release_);
    int st;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  ReaderHog(const ReaderHog&) = delete;
  ReaderHog& operator=(const ReaderHog&) = delete;
  int held() const { return held_; }

 private:
  pid_t pid_ = -1;
  int release_ = -1;
  int held_ = 0;
};

// Seconds since `start`.
inline double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace faults
