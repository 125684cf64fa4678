// bench_memory: resident memory a verifying process gains from pam_apppass (part "memory"
// of tests/bench/run-benchmarks).
//
//   bench_memory --out FILE.json --stores DIR [--quick]
//
// Runs itself again under pam_wrapper (the real libpam, our service files) and, in one
// long-lived process as Dovecot's auth worker is: 200 transactions of a pam_permit service
// (libpam's own memory: the baseline), then transactions of a service with pam_apppass
// "imap" (pam_start, authenticate, acct_mgmt, pam_end; accepted and refused users at random) on
// the largest one-per-user store of at most a million in DIR, twice. After each phase it
// reads /proc/self/smaps and splits the resident set: the store's mapped files (data.mdb,
// lock.mdb, usage/) against everything else (the module, its libraries, heap). The gain
// is everything else after the apppass transactions minus the baseline; target <= 2 MiB.
// The second apppass phase shows whether it keeps growing. Asserts every PAM answer.
#include <security/pam_appl.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "../lib/pam_conv.h"
#include "../lib/pam_rerun.h"
#include "bench_common.h"

using bench::Die;

namespace {

constexpr const char* kStepEnv = "APPPASS_BENCH_MEMORY_DIR";

struct Rss {
  double store_kib = 0, other_kib = 0, other_anon_kib = 0, module_files_kib = 0;
  std::map<std::string, double> by_path;  // Rss (KiB) per mapped path ("[anon]": none)
};

// The resident set of this process from /proc/self/smaps, split as above. `module_files`:
// file-backed mappings of the module and the libraries it brings (apppass, sodium, lmdb).
Rss ReadRss(const std::string& store) {
  std::ifstream f("/proc/self/smaps");
  std::string line, path;
  Rss r;
  bool is_store = false, is_module = false;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const auto colon = line.find(':');
    const auto dash = line.find('-');
    if (dash != std::string::npos && (colon == std::string::npos || dash < colon) &&
        std::isxdigit(static_cast<unsigned char>(line[0]))) {  // a mapping's header
      std::istringstream in(line);
      std::string range, perms, off, dev, inode;
      path.clear();
      in >> range >> perms >> off >> dev >> inode;
      std::getline(in, path);
      path.erase(0, path.find_first_not_of(' '));
      is_store = path.starts_with(store + "/");
      is_module = path.find("apppass") != std::string::npos ||
                  path.find("libsodium") != std::string::npos ||
                  path.find("liblmdb") != std::string::npos;
      continue;
    }
    double kib = 0;
    if (std::sscanf(line.c_str(), "Rss: %lf kB", &kib) == 1) {
      if (is_store) r.store_kib += kib;
      else r.other_kib += kib;
      r.by_path[path.empty() ? "[anon]" : path] += kib;
      if (is_module && !is_store) r.module_files_kib += kib;
    } else if (std::sscanf(line.c_str(), "Anonymous: %lf kB", &kib) == 1 && !is_store) {
      r.other_anon_kib += kib;
    }
  }
  return r;
}

// One whole transaction; PAM_SUCCESS or the first failing call's code.
int Transaction(const char* service, const std::string& user, const std::string& password) {
  pam_conv conv{testlib::PasswordConv, const_cast<std::string*>(&password)};
  pam_handle_t* h = nullptr;
  int rc = pam_start(service, user.c_str(), &conv, &h);
  if (rc != PAM_SUCCESS) return rc;
  rc = pam_authenticate(h, 0);
  if (rc == PAM_SUCCESS) rc = pam_acct_mgmt(h, 0);
  pam_end(h, rc);
  return rc;
}

nlohmann::json Phase(const std::string& name, int n, const Rss& r, const Rss& base) {
  return {{"name", name},
          {"n", n},
          {"extra",
           {{"store pages KiB", r.store_kib},
            {"other KiB", r.other_kib},
            {"other anonymous KiB", r.other_anon_kib},
            {"module files KiB", r.module_files_kib},
            {"gain KiB", r.other_kib - base.other_kib}}}};
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::ParseArgs(argc, argv);
  if (args.stores.empty()) Die("bench_memory needs --stores DIR");
  const bench::LoadedStore* st = nullptr;
  const auto stores = bench::LoadedStores(args.stores);
  for (const auto& s : stores)
    if (s.per_user == 1 && s.count <= 1'000'000 && (st == nullptr || s.count > st->count)) st = &s;
  if (st == nullptr) Die("no one-per-user store in " + args.stores);

  const char* dir = std::getenv(kStepEnv);
  if (dir == nullptr) {
    char tmpl[] = "/tmp/apppass-bench-mem.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    const std::string d = tmpl;
    std::filesystem::create_directory(d + "/services");
    std::ofstream(d + "/services/other") << "";
    std::ofstream(d + "/services/bench-permit")
        << "auth required pam_permit.so\naccount required pam_permit.so\n";
    const std::string line = std::string(APPPASS_BENCH_PAM_MODULE) + " db=" + st->dir + "\n";
    std::ofstream(d + "/services/imap") << "auth required " + line + "account required " + line;
    setenv("LD_PRELOAD", APPPASS_BENCH_PRELOAD, 1);
    if (std::string_view(APPPASS_BENCH_PRELOAD).find(':') != std::string_view::npos)
      setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);  // a sanitizer runtime comes first
    return pamtest::RerunUnderPamWrapper(argv, kStepEnv, d, d + "/services", "bench_memory", false);
  }
  unsetenv("LD_PRELOAD");

  const int rounds = args.quick ? 200 : 2000;
  std::mt19937_64 rng(5);
  for (int k = 0; k < 200; ++k)
    if (Transaction("bench-permit", "anyone", "x") != PAM_SUCCESS) Die("pam_permit refused");
  const Rss base = ReadRss(st->dir);
  auto apppass_phase = [&] {
    for (int k = 0; k < rounds; ++k) {
      const std::uint64_t i = rng() % st->count;
      const bool good = k % 2 == 0;
      const int rc = Transaction("imap", bench::UserName(i / st->per_user),
                                 bench::PasswordFor(i, good ? 0 : 2));
      if ((rc == PAM_SUCCESS) != good)
        Die(std::string("pam_apppass: ") + pam_strerror(nullptr, rc) +
            (good ? " for a right password" : " for a wrong password"));
    }
    return ReadRss(st->dir);
  };
  const Rss after = apppass_phase();
  const Rss again = apppass_phase();

  nlohmann::json rows = nlohmann::json::array();
  rows.push_back(Phase("after 200 pam_permit transactions (baseline)", 200, base, base));
  rows.push_back(
      Phase("after " + std::to_string(rounds) + " pam_apppass transactions", rounds, after, base));
  rows.push_back(Phase("after " + std::to_string(2 * rounds) + " pam_apppass transactions",
                       2 * rounds, again, base));
  const double gain_mib = (after.other_kib - base.other_kib) / 1024;
  // Where the gain is: the mappings that grew most (KiB), so a gap has a measured cause.
  std::vector<std::pair<double, std::string>> grew;
  for (const auto& [path, kib] : after.by_path) {
    const auto it = base.by_path.find(path);
    const double d = kib - (it == base.by_path.end() ? 0 : it->second);
    if (d != 0 && !path.starts_with(st->dir + "/")) grew.emplace_back(d, path);
  }
  std::sort(grew.rbegin(), grew.rend());
  std::string where = "the gain by mapping (KiB):";
  if (after.store_kib == 0)
    where =
        "store pages 0: the module closed the store by pam_end (nothing kept across "
        "transactions); " +
        where;
  for (std::size_t k = 0; k < grew.size() && k < 6; ++k)
    where += " " + std::filesystem::path(grew[k].second).filename().string() + " " +
             std::to_string(static_cast<long>(grew[k].first)) + ";";
  for (const auto& r : rows) std::printf("%s\n", r.dump().c_str());
  const nlohmann::json out = {
      {"part", "memory"},
      {"title", "Memory a verifying process gains from pam_apppass"},
      {"order", 60},
      {"config", {{"stored", st->count}, {"transactions_per_phase", rounds}}},
      {"rows", rows},
      {"targets",
       {bench::Target("resident memory gained from pam_apppass beyond the store's pages (MiB)",
                      gain_mib, 2,
                      "<=", "the module's code and libraries (file-backed) plus its heap")}},
      {"notes",
       {"/proc/self/smaps Rss: 'store pages' = mappings of the store's files (data.mdb, "
        "lock.mdb, usage/); 'other' = everything else; 'module files' = file-backed "
        "mappings of pam_apppass, libapppass-shared, libsodium, liblmdb (part of 'other')",
        "one process under pam_wrapper (the real libpam), transactions pam_start.. pam_end "
        "as Dovecot's auth worker runs them; accepted and refused users at random",
        where}}};
  bench::WriteResult(args.out, out);
  return 0;
}
