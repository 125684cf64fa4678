// Raw corruption of data.mdb: what a verifier does with a store whose LMDB pages are
// damaged (bit rot, a bad copy, a hostile writer in the store's group... which cannot
// write data.mdb, but a bad backup restore can). Not a libFuzzer target: LMDB trusts its
// page headers and may crash the process on garbage pages (a known limitation of LMDB, not
// something apppass can catch), so each trial runs in a forked child and a crash is
// counted, not fatal.
//
//   corrupt_pages TRIALS [SEED]
//
// Each trial restores the pristine data.mdb of the fuzz store (fuzz_util.h), damages it
// one way (random bytes flipped, one page overwritten with random bytes, one page zeroed,
// the file truncated), then a child opens the store for verifying and checks every stored
// app password, each with a wrong variant, and another user's password. Outcomes per
// trial: "refused at open", "answers right", "fail-closed" (some valid password refused or
// unavailable, nothing wrongly accepted), "crash" (a signal), "hang" (over 10 s), and
// "WRONG ACCEPT". Prints the counts per kind of damage; exits non-zero when any answer
// was a wrong acceptance or a trial hung.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "fuzz_util.h"
#include "verifier.h"

namespace {

enum Result { kOpenRefused, kRight, kFailClosed, kCrash, kHang, kWrongAccept, kResults };
const char* const kNames[] = {"refused-at-open", "answers-right", "fail-closed",
                              "crash",           "hang",          "WRONG-ACCEPT"};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// In place (same inode, as a damaged disk would leave it), with the file's mode kept.
void WriteAll(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0 || ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    fuzzutil::Fail("cannot write " + path);
  ::close(fd);
}

// The child's exit status is kExitBase + Result (ASan exits 1 after a SEGV it reported).
constexpr int kExitBase = 40;
[[noreturn]] void Exit(Result r) { _exit(kExitBase + r); }

[[noreturn]] void Child(const std::string& dir) {
  __sanitizer_set_death_callback(nullptr);  // a crash here must not remove the store
  alarm(10);
  apppass::Store store;
  if (!apppass::Store::Open(dir, apppass::Store::Mode::kVerify, &store).ok()) Exit(kOpenRefused);
  const std::int64_t now = std::time(nullptr);
  bool all_right = true;
  for (const auto& c : fuzzutil::TheStore().creds) {
    const std::string service = c.scopes.empty() ? "imap" : c.scopes.front();
    const bool valid = c.active;
    auto d = apppass::Verify(store, c.user, c.display, service, now);
    if (d.outcome == apppass::Outcome::kAccepted && !valid) Exit(kWrongAccept);
    all_right &= (d.outcome == apppass::Outcome::kAccepted) == valid;
    // A wrong password, and this password for another user: never accepted.
    d = apppass::Verify(store, c.user, fuzzutil::Mangle(c.display, "x"), service, now);
    if (d.outcome == apppass::Outcome::kAccepted) Exit(kWrongAccept);
    d = apppass::Verify(store, c.user == "bob" ? "alice" : "bob", c.display, service, now);
    if (d.outcome == apppass::Outcome::kAccepted) Exit(kWrongAccept);
  }
  Exit(all_right ? kRight : kFailClosed);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s TRIALS [SEED]\n", argv[0]);
    return 2;
  }
  const long trials = std::strtol(argv[1], nullptr, 10);
  const unsigned seed =
      argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : std::random_device{}();
  fuzzutil::MakeStore();
  const std::string data = fuzzutil::TheStore().dir + "/data.mdb";
  const std::string pristine = ReadAll(data);
  const std::size_t page = 4096, pages = pristine.size() / page;
  std::printf("store: %zu bytes, %zu pages, %zu app passwords; seed %u\n", pristine.size(), pages,
              fuzzutil::TheStore().creds.size(), seed);
  std::mt19937_64 rng(seed);
  const char* const kKinds[] = {"flip-bytes", "random-page", "zero-page", "truncate"};
  std::map<std::string, std::array<long, kResults>> counts;
  long wrong = 0, hangs = 0;
  for (long t = 0; t < trials; ++t) {
    std::string bad = pristine;
    const int kind = static_cast<int>(rng() % 4);
    const std::size_t p = rng() % pages;
    switch (kind) {
      case 0:
        for (int i = 0, n = 1 + static_cast<int>(rng() % 8); i < n; ++i)
          bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
        break;
      case 1:
        for (std::size_t i = 0; i < page; ++i) bad[p * page + i] = static_cast<char>(rng());
        break;
      case 2: std::fill_n(bad.begin() + static_cast<long>(p * page), page, '\0'); break;
      default: bad.resize(p * page); break;
    }
    WriteAll(data, bad);
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) fuzzutil::Fail("fork");
    if (pid == 0) {
      // LMDB's crash report (and ASan's) is noise here: the signal is what counts.
      const int null = ::open("/dev/null", O_WRONLY);
      dup2(null, STDERR_FILENO);
      Child(fuzzutil::TheStore().dir);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    Result r;
    if (WIFSIGNALED(st)) r = WTERMSIG(st) == SIGALRM ? kHang : kCrash;
    else if (WIFEXITED(st) && WEXITSTATUS(st) >= kExitBase &&
             WEXITSTATUS(st) < kExitBase + kResults)
      r = static_cast<Result>(WEXITSTATUS(st) - kExitBase);
    else r = kCrash;  // ASan reports a SEGV in LMDB and exits non-zero
    ++counts[kKinds[kind]][r];
    wrong += r == kWrongAccept;
    hangs += r == kHang;
  }
  WriteAll(data, pristine);
  for (const auto& [kind, c] : counts) {
    std::printf("figures: corrupt_pages %s:", kind.c_str());
    for (int r = 0; r < kResults; ++r) std::printf(" %s=%ld", kNames[r], c[r]);
    std::printf("\n");
  }
  std::printf("%s - %ld damaged stores: no wrong acceptance\n", wrong == 0 ? "ok" : "not ok",
              trials);
  std::printf("%s - %ld damaged stores: no hang\n", hangs == 0 ? "ok" : "not ok", trials);
  return wrong == 0 && hangs == 0 ? 0 : 1;
}
