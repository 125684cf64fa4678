// A harness around the real libsasl2 server and client APIs for the in-process SASL tests
// (tests/sasl, tests/faults, tests/files): it loads plugins from a given path and reads
// the application's config from a given directory (never /etc/sasl2 or the system plugin
// path), and keeps every line libsasl and the plugins log (with sasl_syslog_capture.cc,
// also what they send to syslog). Reporting, the admin tool and TOTP codes are in
// report.h, run.h and store_fixture.h. Header-only: each test program is one translation
// unit.
#pragma once

#include <sasl/sasl.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report.h"

namespace sasltest {

using testlib::Die;

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

// One of the plugin's decision lines as logged: "apppass: " and the format of
// common/decision_log.h.
inline bool IsDecisionLine(const std::string& l) {
  return l.starts_with("apppass: accepted ") || l.starts_with("apppass: refused ") ||
         l.starts_with("apppass: error ");
}

inline std::string CodeName(int rc) {
  switch (rc) {
    case SASL_OK: return "SASL_OK";
    case SASL_CONTINUE: return "SASL_CONTINUE";
    case SASL_FAIL: return "SASL_FAIL";
    case SASL_NOMEM: return "SASL_NOMEM";
    case SASL_NOMECH: return "SASL_NOMECH";
    case SASL_BADPROT: return "SASL_BADPROT";
    case SASL_BADPARAM: return "SASL_BADPARAM";
    case SASL_BADAUTH: return "SASL_BADAUTH";
    case SASL_NOAUTHZ: return "SASL_NOAUTHZ";
    case SASL_NOUSER: return "SASL_NOUSER";
    case SASL_UNAVAIL: return "SASL_UNAVAIL";
    case SASL_ENCRYPT: return "SASL_ENCRYPT";
    case SASL_TOOWEAK: return "SASL_TOOWEAK";
    default: return "rc=" + std::to_string(rc);
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
