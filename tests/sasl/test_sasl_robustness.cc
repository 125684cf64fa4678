// Malformed and hostile PLAIN and LOGIN messages fed straight to the server side of
// libsasl2 with our plugin loaded: each row of the table is one exchange and its expected
// result. Whatever the input, the plugin must answer with the expected code (never
// SASL_OK unless the row says so, never a crash: run it under ASan), log exactly one
// decision line, and never put the password in a log line or an error text.
//
//   test_sasl_robustness PLUGIN APPPASS_TOOL
#include <sys/stat.h>

#include <algorithm>
#include <climits>

#include "../lib/sasl_harness.h"
#include "../lib/store_fixture.h"

namespace {

using namespace sasltest;
using namespace testlib;
using Msg = std::optional<std::string>;  // nullopt: the client sent no data (NULL)

struct Row {
  std::string name;
  std::string mech;
  std::vector<Msg> messages;  // the first goes with sasl_server_start
  int want;                   // the result of the last exchange step
  std::string log;            // a decision line must contain this
};

std::string S(const char* bytes, std::size_t n) { return std::string(bytes, n); }  // keeps NULs
std::string S(const char* text) { return std::string(text); }
std::string Repeat(char c, std::size_t n) { return std::string(n, c); }

int RunRow(const Row& row, std::string* challenges) {
  ServerConn conn;
  int rc = conn.Start(row.mech, row.messages.front());
  *challenges = conn.Challenge();
  for (std::size_t i = 1; i < row.messages.size() && rc == SASL_CONTINUE; ++i) {
    rc = conn.Step(row.messages[i]);
    *challenges += "|" + conn.Challenge();
  }
  *challenges += "#" + conn.ErrDetail();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PLUGIN APPPASS_TOOL\n", argv[0]);
    return 2;
  }
  char plugin[PATH_MAX];
  if (realpath(argv[1], plugin) == nullptr) Die(std::string("no plugin at ") + argv[1]);
  const std::string dir = MakeTempDir("apppass-sasl-robust");
  const Tool tool{argv[2], dir + "/store"};
  mkdir((dir + "/plugins").c_str(), 0755);
  mkdir((dir + "/conf").c_str(), 0755);
  if (symlink(plugin, (dir + "/plugins/libapppass.so").c_str()) != 0) Die("symlink failed");
  tool.Ok({"init"});
  Enroll(tool, "alice");
  const std::string pw = Create(tool, "alice", "phone").password;
  std::string bare = pw;
  bare.erase(std::remove(bare.begin(), bare.end(), '-'), bare.end());

  WriteFile(dir + "/conf/robust.conf", "mech_list: PLAIN LOGIN\napppass_db: " + tool.store + "\n");
  g_harness.server_path = dir + "/plugins";
  g_harness.conf_dir = dir + "/conf";
  g_harness.appname = "robust";
  InitSasl(false);

  const std::string big = Repeat('a', 64 * 1024);
  const std::string ok = "apppass: accepted service=smtp user=alice";
  const std::string refused = "refused service=smtp user=";
  const std::string nouser = "refused service=smtp user=- rhost=192.0.2.7 reason=";
  // clang-format off
  const std::vector<Row> rows = {
      // PLAIN: [authzid] NUL authcid NUL passwd
      {"PLAIN well-formed", "PLAIN", {S("\0alice\0", 7) + pw}, SASL_OK, ok},
      {"PLAIN authzid equal to the user", "PLAIN", {S("alice\0alice\0", 12) + pw}, SASL_OK, ok},
      {"PLAIN no initial response, then the message", "PLAIN", {std::nullopt, S("\0alice\0", 7) + pw},
       SASL_OK, ok},
      {"PLAIN spaces around the password (normalized away)", "PLAIN", {S("\0alice\0  ", 9) + pw + "  "},
       SASL_OK, ok},
      {"PLAIN spaces around the user (trimmed by canon_user; the canonical name is verified)", "PLAIN",
       {S("\0 alice \0", 9) + pw}, SASL_OK, ok},
      {"PLAIN no NUL", "PLAIN", {"alice" + pw}, SASL_BADPROT, nouser + "bad-input"},
      {"PLAIN one NUL (user NUL password)", "PLAIN", {S("alice\0", 6) + pw}, SASL_BADPROT,
       nouser + "bad-input"},
      {"PLAIN empty message", "PLAIN", {S("")}, SASL_BADPROT, nouser + "bad-input"},
      {"PLAIN no initial response, then no data", "PLAIN", {std::nullopt, std::nullopt}, SASL_BADPROT,
       nouser + "bad-input"},
      {"PLAIN a single NUL", "PLAIN", {S("\0", 1)}, SASL_BADPROT, nouser + "bad-input"},
      {"PLAIN trailing NUL after the password", "PLAIN", {S("\0alice\0", 7) + pw + S("\0", 1)},
       SASL_BADPROT, nouser + "bad-input"},
      {"PLAIN NUL inside the password", "PLAIN",
       {S("\0alice\0", 7) + pw.substr(0, 9) + S("\0", 1) + pw.substr(9)}, SASL_BADPROT,
       nouser + "bad-input"},
      {"PLAIN four fields", "PLAIN", {S("x\0alice\0", 8) + pw + S("\0y", 2)}, SASL_BADPROT,
       nouser + "bad-input"},
      {"PLAIN empty user", "PLAIN", {S("\0\0", 2) + pw}, SASL_BADPROT, nouser + "no-user"},
      {"PLAIN empty password", "PLAIN", {S("\0alice\0", 7)}, SASL_BADPROT, nouser + "no-password"},
      {"PLAIN only the two NULs", "PLAIN", {S("\0\0", 2)}, SASL_BADPROT, nouser + "no-user"},
      {"PLAIN 64 KiB authzid", "PLAIN", {big + S("\0alice\0", 7) + pw}, SASL_BADPROT,
       nouser + "bad-input"},
      {"PLAIN 64 KiB user", "PLAIN", {S("\0", 1) + big + S("\0", 1) + pw}, SASL_BADPROT,
       nouser + "bad-input"},
      {"PLAIN 64 KiB password", "PLAIN", {S("\0alice\0", 7) + big}, SASL_BADPROT, nouser + "bad-input"},
      {"PLAIN 64 KiB of NULs", "PLAIN", {Repeat('\0', 64 * 1024)}, SASL_BADPROT, nouser + "bad-input"},
      {"PLAIN user of 257 bytes", "PLAIN", {S("\0", 1) + Repeat('u', 257) + S("\0", 1) + pw},
       SASL_BADPROT, nouser + "bad-input"},
      {"PLAIN user of 256 bytes (allowed, unknown)", "PLAIN",
       {S("\0", 1) + Repeat('u', 256) + S("\0", 1) + pw}, SASL_BADAUTH, "reason=unknown-user"},
      {"PLAIN password of 513 bytes", "PLAIN", {S("\0alice\0", 7) + Repeat('p', 513)}, SASL_BADPROT,
       nouser + "bad-input"},
      {"PLAIN password of 512 bytes (allowed, wrong)", "PLAIN", {S("\0alice\0", 7) + Repeat('p', 512)},
       SASL_BADAUTH, refused + "alice rhost=192.0.2.7 reason=wrong-password"},
      {"PLAIN authzid other than the user", "PLAIN", {S("bob\0alice\0", 10) + pw}, SASL_NOAUTHZ,
       refused + "alice rhost=192.0.2.7 reason=authzid-not-allowed"},
      {"PLAIN invalid UTF-8 user", "PLAIN", {S("\0al\xff" "ice\0", 8) + pw}, SASL_BADAUTH,
       "reason=bad-input"},
      {"PLAIN overlong UTF-8 user", "PLAIN", {S("\0\xc0\xaf" "alice\0", 9) + pw}, SASL_BADAUTH,
       "reason=bad-input"},
      {"PLAIN control character in the user", "PLAIN", {S("\0al\x01ice\0", 8) + pw}, SASL_BADAUTH,
       "reason=bad-input"},
      {"PLAIN escape sequence in the user", "PLAIN", {S("\0\x1b[2Jalice\0", 11) + pw}, SASL_BADAUTH,
       "reason=bad-input"},
      {"PLAIN user in another case", "PLAIN", {S("\0Alice\0", 7) + pw}, SASL_BADAUTH,
       refused + "Alice rhost=192.0.2.7 reason=unknown-user"},
      {"PLAIN wrong password", "PLAIN", {S("\0alice\0abcd-efgh-jkmn-pqrs-tuvw", 31)}, SASL_BADAUTH,
       "reason=wrong-password"},
      {"PLAIN password that is not an app password", "PLAIN", {S("\0alice\0hunter2", 14)},
       SASL_BADAUTH, "reason=wrong-password"},
      // LOGIN: "Username:" -> user, "Password:" -> password
      {"LOGIN well-formed", "LOGIN", {std::nullopt, "alice", pw}, SASL_OK, ok},
      {"LOGIN user name as initial response", "LOGIN", {S("alice"), pw}, SASL_OK, ok},
      {"LOGIN NUL in the user name", "LOGIN", {std::nullopt, S("ali\0ce", 6), pw}, SASL_BADPROT,
       nouser + "bad-input"},
      {"LOGIN NUL in the initial response", "LOGIN", {S("ali\0ce", 6), pw}, SASL_BADPROT,
       nouser + "bad-input"},
      {"LOGIN empty user name", "LOGIN", {std::nullopt, S(""), pw}, SASL_BADPROT, nouser + "no-user"},
      {"LOGIN no data for the user name", "LOGIN", {std::nullopt, std::nullopt, pw}, SASL_BADPROT,
       nouser + "no-user"},
      {"LOGIN 64 KiB user name", "LOGIN", {std::nullopt, big, pw}, SASL_BADPROT, nouser + "bad-input"},
      {"LOGIN user name of 257 bytes", "LOGIN", {std::nullopt, Repeat('u', 257), pw}, SASL_BADPROT,
       nouser + "bad-input"},
      {"LOGIN empty password", "LOGIN", {std::nullopt, "alice", S("")}, SASL_BADPROT,
       refused + "alice rhost=192.0.2.7 reason=no-password"},
      {"LOGIN no data for the password", "LOGIN", {std::nullopt, "alice", std::nullopt}, SASL_BADPROT,
       "reason=no-password"},
      {"LOGIN 64 KiB password", "LOGIN", {std::nullopt, "alice", big}, SASL_BADPROT, "reason=bad-input"},
      {"LOGIN NUL in the password", "LOGIN", {std::nullopt, "alice", pw + S("\0x", 2)}, SASL_BADPROT,
       "reason=bad-input"},
      {"LOGIN invalid UTF-8 user name", "LOGIN", {std::nullopt, S("al\xff" "ice"), pw}, SASL_BADAUTH,
       "reason=bad-input"},
      {"LOGIN wrong password", "LOGIN", {std::nullopt, "alice", S("abcd-efgh-jkmn-pqrs-tuvw")},
       SASL_BADAUTH, "reason=wrong-password"},
      {"LOGIN a PLAIN message as the password", "LOGIN", {std::nullopt, "alice", S("\0alice\0", 7) + pw},
       SASL_BADPROT, "reason=bad-input"},
  };
  // clang-format on

  for (const Row& row : rows) {
    const std::size_t mark = g_log.size();
    std::string texts;
    const int rc = RunRow(row, &texts);
    const std::vector<std::string> lines(g_log.begin() + static_cast<std::ptrdiff_t>(mark),
                                         g_log.end());
    std::string why;
    if (rc != row.want) why = "got " + CodeName(rc) + ", want " + CodeName(row.want);
    const auto decisions = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
      return l.starts_with("apppass: accepted ") || l.starts_with("apppass: refused ") ||
             l.starts_with("apppass: error ");
    });
    if (why.empty() && decisions != 1) why = std::to_string(decisions) + " decision lines, want 1";
    if (why.empty() && std::none_of(lines.begin(), lines.end(),
                                    [&](const std::string& l) { return Contains(l, row.log); }))
      why = "no log line contains '" + row.log + "'";
    for (const std::string& secret : {pw, bare}) {
      if (Contains(texts, secret)) why = "the password appears in a challenge or error text";
      for (const auto& l : lines)
        if (Contains(l, secret)) why = "the password appears in the log";
    }
    if (!why.empty())
      for (const auto& l : lines) std::printf("#   log: %.300s\n", l.c_str());
    Report(why.empty(), row.name + " -> " + CodeName(row.want), why);
  }

  // LOGIN's prompts are the ones clients look for.
  {
    ServerConn conn;
    const int rc1 = conn.Start("LOGIN", std::nullopt);
    const std::string c1 = conn.Challenge();
    const int rc2 = conn.Step(S("alice"));
    const std::string c2 = conn.Challenge();
    Report(rc1 == SASL_CONTINUE && c1 == "Username:" && rc2 == SASL_CONTINUE && c2 == "Password:",
           "LOGIN prompts are 'Username:' and 'Password:'", "got '" + c1 + "', '" + c2 + "'");
  }

  DoneSasl(false);
  Run({"/bin/rm", "-rf", dir});
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
