// files_fd_leaks (the program; test_fd_leaks.sh prepares the store and the services):
// a host process that uses both the PAM module (real libpam under pam_wrapper) and the
// SASL plugin (real libsasl2, in process).
//
//   fd_leaks PLUGIN STORE PASSWORD REVOKED_PASSWORD FD_LIST ROUNDS
//
// PAM_WRAPPER_SERVICE_DIR must hold "imap" (pam_apppass.so db=STORE) and "imapbad" (a
// store that does not exist). Checks:
//  - a program exec'd by the host (FD_LIST, which prints its descriptors) holds no
//    descriptor into STORE: after the SASL plugin opened the store, during a PAM
//    transaction right after an accept, after pam_end, after SASL logins;
//  - the number of open descriptors is the same before the loop, after 100 and after
//    ROUNDS authentications (PAM and SASL, right, wrong and revoked passwords, PAM with
//    an unavailable store), and after a SASL application whose store is unavailable;
//  - after sasl_server_done exactly the descriptors the PAM module keeps remain (its store
//    and usage database, kept across transactions: common/store_cache.h), as many as a
//    PAM-only child process keeps after one accepted login;
//  - every answer is the expected one (so the loop really exercised those paths).
// Prints the descriptor counts. Exits 1 when a check failed, 2 when it could not run.
#include <security/pam_appl.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../lib/in_child.h"
#include "../lib/pam_conv.h"
#include "../lib/sasl_harness.h"
#include "../lib/store_fixture.h"

using namespace sasltest;
using namespace testlib;

namespace {

std::string g_pam_password;

// Descriptors of a program this process executes: "FD TARGET" lines.
std::vector<std::string> ChildDescriptors(const std::string& lister) {
  const RunResult r = Run({lister});
  if (r.status != 0) Die("fd_list failed");
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < r.out.size()) {
    const std::size_t end = r.out.find('\n', start);
    lines.push_back(r.out.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

void ExpectNoStoreFd(const std::string& when, const std::string& lister, const std::string& store) {
  std::string leaked;
  for (const std::string& l : ChildDescriptors(lister))
    if (Contains(l, store + "/")) leaked += " [" + l + "]";
  Report(leaked.empty(), "no store descriptor reaches a program exec'd " + when, leaked);
}

int CountFds() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n - 1;  // the iterator's own descriptor
}

// One PAM transaction; with `lister`, runs it between pam_authenticate and pam_end.
int Pam(const char* service, const std::string& password, const std::string& lister = "",
        const std::string& store = "") {
  g_pam_password = password;
  const pam_conv conv{testlib::PasswordConv, &g_pam_password};
  pam_handle_t* h = nullptr;
  if (pam_start(service, "alice", &conv, &h) != PAM_SUCCESS) Die("pam_start failed");
  const int rc = pam_authenticate(h, 0);
  if (!lister.empty()) ExpectNoStoreFd("during a PAM transaction, after an accept", lister, store);
  pam_end(h, rc);
  return rc;
}

int Sasl(const std::string& password) {
  ServerConn conn;
  std::string msg;
  msg.push_back('\0');
  msg += "alice";
  msg.push_back('\0');
  msg += password;
  return conn.Start("PLAIN", msg);
}

// In a child process, before this one used PAM or SASL: how many descriptors one accepted
// PAM transaction leaves open (the module keeps its store and usage database).
int PamKeptFds(const std::string& password) {
  return ValueFromChild<int>(
      [&] {
        const int base = CountFds();
        return Pam("imap", password) == PAM_SUCCESS ? CountFds() - base : -1;
      },
      -1);
}

void StartSasl(const std::string& dir, const std::string& app, const std::string& store) {
  WriteFile(dir + "/" + app + ".conf", "mech_list: PLAIN LOGIN\napppass_db: " + store + "\n");
  g_harness.conf_dir = dir;
  g_harness.appname = app;
  InitSasl(false);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: fd_leaks PLUGIN STORE PASSWORD REVOKED_PASSWORD FD_LIST ROUNDS\n");
    return 2;
  }
  const std::string plugin = argv[1], store = argv[2], pw = argv[3], revoked = argv[4],
                    lister = argv[5];
  const long rounds = std::atol(argv[6]);
  const std::string wrong = "abcd-efgh-jkmn-pqrs-tuvw";
  const std::string dir = MakeTempDir("apppass-fd-leaks");
  const std::string plugins = dir + "/plugins";
  if (mkdir(plugins.c_str(), 0755) != 0 ||
      symlink(plugin.c_str(), (plugins + "/libapppass.so").c_str()) != 0)
    Die("cannot make the plugin directory");
  g_harness.server_path = plugins;

  const int at_start = CountFds();
  const int pam_kept = PamKeptFds(pw);
  Report(pam_kept > 0, "a PAM-only process keeps its store open after an accepted login",
         std::to_string(pam_kept) + " descriptors");
  StartSasl(dir, "app", store);
  ExpectNoStoreFd("after the SASL plugin opened the store", lister, store);
  Report(Pam("imap", pw, lister, store) == PAM_SUCCESS, "PAM accepts the password");
  ExpectNoStoreFd("after pam_end", lister, store);
  Report(Sasl(pw) == SASL_OK, "SASL accepts the password");
  ExpectNoStoreFd("after a SASL login", lister, store);

  // Each round is one authentication, in turn: PAM right, wrong, revoked, unavailable
  // store; SASL right, wrong, revoked.
  long bad_answers = 0;
  std::string first_bad;
  auto round = [&](long i) {
    int got = 0, want = 0;
    switch (i % 7) {
      case 0:
        got = Pam("imap", pw);
        want = PAM_SUCCESS;
        break;
      case 1:
        got = Pam("imap", wrong);
        want = PAM_AUTH_ERR;
        break;
      case 2:
        got = Pam("imap", revoked);
        want = PAM_AUTH_ERR;
        break;
      case 3:
        got = Pam("imapbad", pw);
        want = PAM_AUTHINFO_UNAVAIL;
        break;
      case 4:
        got = Sasl(pw);
        want = SASL_OK;
        break;
      case 5:
        got = Sasl(wrong);
        want = SASL_BADAUTH;
        break;
      default:
        got = Sasl(revoked);
        want = SASL_BADAUTH;
        break;
    }
    if (got != want && bad_answers++ == 0)
      first_bad = "round " + std::to_string(i) + ": got " + std::to_string(got) + ", want " +
                  std::to_string(want);
  };
  for (long i = 0; i < 7; ++i) round(i);  // warm-up: every path loaded once
  const int before = CountFds();
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < 100; ++i) round(i);
  const int after_100 = CountFds();
  for (long i = 100; i < rounds; ++i) round(i);
  const int after_all = CountFds();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "# descriptors: %d at start, %d with the SASL store open; %d after 100, %d after "
      "%ld authentications (%.1f s, %.0f per second)\n",
      at_start, before, after_100, after_all, rounds, secs, static_cast<double>(rounds) / secs);
  Report(bad_answers == 0,
         "every one of the " + std::to_string(rounds) + " answers was the expected one",
         std::to_string(bad_answers) + " wrong, first " + first_bad);
  Report(after_100 == before && after_all == before,
         "descriptor count constant over " + std::to_string(rounds) + " authentications",
         std::to_string(before) + " -> " + std::to_string(after_100) + " -> " +
             std::to_string(after_all));
  ExpectNoStoreFd("after all authentications", lister, store);
  DoneSasl(false);
  const int after_done = CountFds();

  // A SASL application whose store is unavailable: every login refused, nothing leaks.
  StartSasl(dir, "bad", store + "/missing");
  const int bad_before = CountFds();
  long unavail = 0;
  for (long i = 0; i < rounds / 10; ++i) unavail += Sasl(pw) == SASL_UNAVAIL ? 1 : 0;
  const int bad_after = CountFds();
  DoneSasl(false);
  std::printf("# unavailable store (SASL): %d descriptors before, %d after %ld refusals\n",
              bad_before, bad_after, rounds / 10);
  Report(unavail == rounds / 10, "SASL refuses every login while its store is unavailable");
  Report(bad_after == bad_before, "descriptor count constant while the store is unavailable");
  std::printf("# %d descriptors at start, %d after sasl_server_done (%d kept by the PAM module)\n",
              at_start, after_done, pam_kept);
  Report(after_done == at_start + pam_kept,
         "sasl_server_done closes every descriptor the plugin opened (what remains is the PAM "
         "module's kept store)",
         std::to_string(at_start) + " + " + std::to_string(pam_kept) + " -> " +
             std::to_string(after_done));

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
