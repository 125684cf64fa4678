// Helpers shared by the in-process SASL tests: reporting, the admin tool, TOTP codes,
// scratch files, and a harness around the real libsasl2 server and client APIs that loads
// plugins from a given path and reads the application's config from a given directory
// (never /etc/sasl2 or the system plugin path).
//
// Each test prints "ok - ..." / "not ok - ..." per check and exits non-zero when one
// failed. Header-only: each test program is one translation unit.
#pragma once

#include <fcntl.h>
#include <liboath/oath.h>
#include <sasl/sasl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../lib/totp_now.h"

extern char** environ;

namespace sasltest {

inline int g_failures = 0;
inline int g_checks = 0;

inline void Report(bool ok, const std::string& name, const std::string& why = "") {
  ++g_checks;
  if (ok) {
    std::printf("ok - %s\n", name.c_str());
  } else {
    ++g_failures;
    std::printf("not ok - %s%s%s\n", name.c_str(), why.empty() ? "" : ": ", why.c_str());
  }
  std::fflush(stdout);
}

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "sasl test: %s\n", what.c_str());
  std::exit(2);
}

inline std::string MakeTempDir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
  return tmpl;
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  if (!f) Die("cannot write " + path);
}

inline bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// ---------------------------------------------------------------------------------------
// Running programs (the admin tool, saslpasswd2).

struct RunResult {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string out;
};

// Runs argv[0] with our environment minus LD_PRELOAD; `input` goes to its stdin.
inline RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv_s = args;
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e)
    if (!std::string_view(*e).starts_with("LD_PRELOAD=")) env_s.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) Die("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv_s[0].c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(in[0]);
  if (rc != 0) Die("cannot run " + argv_s[0] + ": " + std::strerror(rc));
  if (!input.empty() &&
      write(in[1], input.data(), input.size()) != static_cast<ssize_t>(input.size()))
    Die("cannot write to " + argv_s[0]);
  close(in[1]);
  RunResult r;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) r.out.append(buf, static_cast<std::size_t>(n));
  close(out[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// The admin tool on one store.
struct Tool {
  std::string path, store;

  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") const {
    std::vector<std::string> a = {path, "--db", store};
    a.insert(a.end(), args.begin(), args.end());
    return sasltest::Run(a, input);
  }
  void Ok(const std::vector<std::string>& args) const {
    const RunResult r = Run(args);
    if (r.status != 0) Die("apppass " + Join(args) + " exited with " + std::to_string(r.status));
  }
  nlohmann::json Json(const std::vector<std::string>& args) const {
    const RunResult r = Run(args);
    if (r.status != 0) Die("apppass " + Join(args) + " exited with " + std::to_string(r.status));
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      Die("apppass " + Join(args) + " printed no JSON: " + e.what());
    }
  }
  static std::string Join(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
  }
};

inline std::string TotpNow(const std::string& base32) {
  std::string code = testlib::TotpCodeNow(base32);
  if (code.empty()) Die("no TOTP code from apppass mfa enroll's secret");
  return code;
}

// App passwords are only issued to users with confirmed MFA.
inline void Enroll(const Tool& tool, const std::string& user) {
  const nlohmann::json e = tool.Json({"mfa", "enroll", user, "--json"});
  tool.Ok({"mfa", "confirm", user, TotpNow(e.at("secret").get<std::string>())});
}

struct Cred {
  std::string id, password;
};

inline Cred Create(const Tool& tool, const std::string& user, const std::string& name,
                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"create", user, "--name", name, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const nlohmann::json j = tool.Json(args);
  return {j.at("id").get<std::string>(), j.at("password").get<std::string>()};
}

// ---------------------------------------------------------------------------------------
// libsasl2 harness. One application per process (sasl_server_init is per process).

inline std::vector<std::string> g_log;  // every line libsasl and the plugins logged

struct Harness {
  std::string server_path;  // colon list of plugin directories for the server
  std::string client_path;  // plugin directories for the client (stock PLAIN, LOGIN)
  std::string conf_dir;     // where APPNAME.conf is read
  std::string appname;
  // Proxy policy: allow `proxy_user` to act as `proxy_target` (the library's default
  // policy allows only acting as oneself). Counts calls.
  std::string proxy_user, proxy_target;
  int proxy_calls = 0;
};
inline Harness g_harness;

inline int ServerGetPath(void*, const char** path) {
  *path = g_harness.server_path.c_str();
  return SASL_OK;
}
inline int ClientGetPath(void*, const char** path) {
  *path = g_harness.client_path.c_str();
  return SASL_OK;
}
inline int GetConfPath(void*, char** path) {
  *path = g_harness.conf_dir.data();
  return SASL_OK;
}
inline int LogLine(void*, int, const char* message) {
  g_log.emplace_back(message != nullptr ? message : "");
  return SASL_OK;
}
inline int ProxyPolicy(sasl_conn_t* conn, void*, const char* requested, unsigned rlen,
                       const char* auth, unsigned alen, const char*, unsigned, struct propctx*) {
  ++g_harness.proxy_calls;
  const std::string_view req(requested, rlen), who(auth, alen);
  if (req == who) return SASL_OK;
  if (!g_harness.proxy_user.empty() && who == g_harness.proxy_user && req == g_harness.proxy_target)
    return SASL_OK;
  sasl_seterror(conn, SASL_NOLOG, "proxy not allowed");
  return SASL_NOAUTHZ;
}

// sasl_callback_t holds every callback as int (*)(void); the detour through
// void (*)(void) is the cast -Wcast-function-type accepts.
template <typename F>
sasl_callback_t Callback(unsigned long id, F* f) {
  return sasl_callback_t{id, reinterpret_cast<int (*)(void)>(reinterpret_cast<void (*)(void)>(f)),
                         nullptr};
}

inline const sasl_callback_t* ServerCallbacks() {
  static const sasl_callback_t cbs[] = {Callback(SASL_CB_GETPATH, &ServerGetPath),
                                        Callback(SASL_CB_GETCONFPATH, &GetConfPath),
                                        Callback(SASL_CB_LOG, &LogLine),
                                        Callback(SASL_CB_PROXY_POLICY, &ProxyPolicy),
                                        {SASL_CB_LIST_END, nullptr, nullptr}};
  return cbs;
}
inline const sasl_callback_t* ClientInitCallbacks() {
  static const sasl_callback_t cbs[] = {Callback(SASL_CB_GETPATH, &ClientGetPath),
                                        Callback(SASL_CB_LOG, &LogLine),
                                        {SASL_CB_LIST_END, nullptr, nullptr}};
  return cbs;
}

// Initializes the server (and, with `with_client`, the client) side.
inline void InitSasl(bool with_client) {
  const int rc = sasl_server_init(ServerCallbacks(), g_harness.appname.c_str());
  if (rc != SASL_OK) Die("sasl_server_init: " + std::string(sasl_errstring(rc, nullptr, nullptr)));
  if (with_client && sasl_client_init(ClientInitCallbacks()) != SASL_OK)
    Die("sasl_client_init failed");
}

inline void DoneSasl(bool with_client) {
  sasl_server_done();
  if (with_client) sasl_client_done();
}

inline std::string CodeName(int rc) {
  switch (rc) {
    case SASL_OK:
      return "SASL_OK";
    case SASL_CONTINUE:
      return "SASL_CONTINUE";
    case SASL_FAIL:
      return "SASL_FAIL";
    case SASL_NOMEM:
      return "SASL_NOMEM";
    case SASL_NOMECH:
      return "SASL_NOMECH";
    case SASL_BADPROT:
      return "SASL_BADPROT";
    case SASL_BADPARAM:
      return "SASL_BADPARAM";
    case SASL_BADAUTH:
      return "SASL_BADAUTH";
    case SASL_NOAUTHZ:
      return "SASL_NOAUTHZ";
    case SASL_NOUSER:
      return "SASL_NOUSER";
    case SASL_UNAVAIL:
      return "SASL_UNAVAIL";
    case SASL_ENCRYPT:
      return "SASL_ENCRYPT";
    case SASL_TOOWEAK:
      return "SASL_TOOWEAK";
    default:
      return "rc=" + std::to_string(rc);
  }
}

// A server connection as Postfix makes one: service, FQDN, no realm, addresses "ip;port",
// security properties "noanonymous".
class ServerConn {
 public:
  explicit ServerConn(const char* remote = "192.0.2.7;4321", const char* service = "smtp") {
    const int rc = sasl_server_new(service, "test.example", nullptr, "127.0.0.1;25", remote,
                                   nullptr, 0, &conn_);
    if (rc != SASL_OK) Die("sasl_server_new: " + CodeName(rc));
    sasl_security_properties_t props{};
    props.security_flags = SASL_SEC_NOANONYMOUS;
    if (sasl_setprop(conn_, SASL_SEC_PROPS, &props) != SASL_OK) Die("sasl_setprop failed");
  }
  ~ServerConn() { sasl_dispose(&conn_); }
  ServerConn(const ServerConn&) = delete;
  ServerConn& operator=(const ServerConn&) = delete;

  // nullopt: no data (NULL); otherwise the bytes, NULs included.
  int Start(const std::string& mech, const std::optional<std::string>& in) {
    return sasl_server_start(conn_, mech.c_str(), in ? in->data() : nullptr,
                             in ? static_cast<unsigned>(in->size()) : 0, &out_, &outlen_);
  }
  int Step(const std::optional<std::string>& in) {
    return sasl_server_step(conn_, in ? in->data() : nullptr,
                            in ? static_cast<unsigned>(in->size()) : 0, &out_, &outlen_);
  }
  std::string Challenge() const { return out_ != nullptr ? std::string(out_, outlen_) : ""; }
  std::string Prop(int which) const {
    const void* v = nullptr;
    if (sasl_getprop(conn_, which, &v) != SASL_OK || v == nullptr) return "";
    return static_cast<const char*>(v);
  }
  std::string ErrDetail() const {
    const char* d = sasl_errdetail(conn_);
    return d != nullptr ? d : "";
  }
  std::string MechList() const {
    const char* list = nullptr;
    unsigned len = 0;
    int count = 0;
    if (sasl_listmech(conn_, nullptr, "", " ", "", &list, &len, &count) != SASL_OK ||
        list == nullptr)
      return "(sasl_listmech failed)";
    return std::string(list, len);
  }
  sasl_conn_t* get() const { return conn_; }

 private:
  sasl_conn_t* conn_ = nullptr;
  const char* out_ = nullptr;
  unsigned outlen_ = 0;
};

}  // namespace sasltest
