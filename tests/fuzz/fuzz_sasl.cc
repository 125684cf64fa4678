// libFuzzer target (b): the PLAIN and LOGIN server steps of the SASL plugin (sasl_plugin/),
// driven through the real libsasl2 in process. The plugin is compiled into this program
// and registered with sasl_server_add_plugin (the library's own API for built-in
// plugins), so libsasl2 runs its real server side (sasl_server_new/start/step,
// canon_user, security properties) and no other plugin is loaded. Options come from a
// SASL_CB_GETOPT callback (apppass_db is the small real store of fuzz_util.h).
//
// Input lines (fuzz_util.h for the format and "{K}"):
//   service=NAME       sasl_server_new's service (default smtp)
//   remote=IP;PORT     the client address (default 192.0.2.7;4321)   remote!  none
//   mech=NAME          the mechanism (default PLAIN)
//   start=BYTES        initial response                              start!   none (NULL)
//   step=BYTES         one more client message (up to 4)             step!    NULL
//   mangle=OPS         fuzz_util.h Mangle on the last message
// Messages are raw bytes: a PLAIN message is "authzid NUL authcid NUL password".
//
// Each input runs the exchange on two fresh connections. Checked:
//   - SASL_OK only when the canonical user (SASL_USERNAME) and the password of the
//     message that completed the exchange are an active stored app password valid for
//     the service (fuzz_util.h Explains), and PLAIN's authzid is empty or the user's;
//   - a plain valid exchange (stored user and password, well-formed, known service) ends
//     in SASL_OK;
//   - both connections give the same answer; no log line contains the password.
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <sys/stat.h>

#include "fuzz_util.h"

extern "C" int sasl_server_plug_init(const sasl_utils_t* utils, int maxversion, int* out_version,
                                     sasl_server_plug_t** pluglist, int* plugcount);

namespace {

using fuzzutil::Fail;
using fuzzutil::Show;

std::string g_plugin_dir;  // empty: no plugin is loaded from disk
std::vector<std::string>* g_log = nullptr;

int GetPath(void*, const char** path) {
  *path = g_plugin_dir.c_str();
  return SASL_OK;
}

int GetConfPath(void*, char** path) {
  *path = g_plugin_dir.data();
  return SASL_OK;
}

int GetOpt(void*, const char*, const char* option, const char** result, unsigned* len) {
  static const std::string db = fuzzutil::TheStore().dir;
  std::string_view o(option);
  const char* v = nullptr;
  if (o == "apppass_db") v = db.c_str();
  else if (o == "mech_list") v = "PLAIN LOGIN";
  if (v == nullptr) return SASL_FAIL;
  *result = v;
  if (len != nullptr) *len = static_cast<unsigned>(std::strlen(v));
  return SASL_OK;
}

int Log(void*, int, const char* message) {
  if (g_log != nullptr) g_log->emplace_back(message != nullptr ? message : "");
  return SASL_OK;
}

template <typename F>
sasl_callback_t Callback(unsigned long id, F* f) {
  return sasl_callback_t{id, reinterpret_cast<int (*)(void)>(reinterpret_cast<void (*)(void)>(f)),
                         nullptr};
}

struct Exchange {
  std::string service = "smtp";
  std::string remote = "192.0.2.7;4321";
  bool remote_set = true;
  std::string mech = "PLAIN";
  std::vector<std::optional<std::string>> messages{std::nullopt};  // [0]: initial response
};

Exchange Parse(std::string_view in) {
  Exchange e;
  std::string mangle;
  for (const auto& d : fuzzutil::Directives(in)) {
    std::string value = fuzzutil::Expand(d.value);
    const bool none = d.op == '!';
    if (d.key == "service") {
      e.service = value.c_str();  // C strings for the library's arguments
    } else if (d.key == "remote") {
      e.remote = value.c_str();
      e.remote_set = !none;
    } else if (d.key == "mech") {
      e.mech = value.c_str();
    } else if (d.key == "start") {
      e.messages[0] = none ? std::nullopt : std::optional<std::string>(value);
    } else if (d.key == "step" && e.messages.size() < 5) {
      e.messages.push_back(none ? std::nullopt : std::optional<std::string>(value));
    } else if (d.key == "mangle") {
      mangle = value;
    }
  }
  if (!mangle.empty() && e.messages.back())
    *e.messages.back() = fuzzutil::Mangle(*e.messages.back(), mangle);
  return e;
}

struct Result {
  int rc = SASL_FAIL;
  std::size_t last = 0;  // index of the message that produced rc
  std::string username;
};

Result Run(const Exchange& e, std::vector<std::string>* log) {
  Result r;
  sasl_conn_t* conn = nullptr;
  g_log = log;
  r.rc = sasl_server_new(e.service.c_str(), "test.example", nullptr, "127.0.0.1;25",
                         e.remote_set ? e.remote.c_str() : nullptr, nullptr, 0, &conn);
  if (r.rc != SASL_OK) {
    r.rc = SASL_FAIL;  // the library refused the connection's parameters: no exchange
    sasl_dispose(&conn);
    return r;
  }
  sasl_security_properties_t props{};
  props.security_flags = SASL_SEC_NOANONYMOUS;
  sasl_setprop(conn, SASL_SEC_PROPS, &props);
  const char* out = nullptr;
  unsigned outlen = 0;
  const auto& m0 = e.messages[0];
  r.rc = sasl_server_start(conn, e.mech.c_str(), m0 ? m0->data() : nullptr,
                           m0 ? static_cast<unsigned>(m0->size()) : 0, &out, &outlen);
  for (std::size_t i = 1; i < e.messages.size() && r.rc == SASL_CONTINUE; ++i) {
    const auto& m = e.messages[i];
    r.last = i;
    r.rc = sasl_server_step(conn, m ? m->data() : nullptr, m ? static_cast<unsigned>(m->size()) : 0,
                            &out, &outlen);
  }
  if (r.rc == SASL_OK) {
    const void* v = nullptr;
    if (sasl_getprop(conn, SASL_USERNAME, &v) != SASL_OK || v == nullptr)
      Fail("SASL_OK without a user name");
    r.username = static_cast<const char*>(v);
  }
  sasl_dispose(&conn);
  g_log = nullptr;
  return r;
}

void Check(const Exchange& e, const Result& r, const std::vector<std::string>& log) {
  std::string upper = e.mech;  // libsasl2 matches mechanism names without case
  for (char& ch : upper)
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  const bool plain = upper == "PLAIN";
  if (r.rc == SASL_OK && !plain && upper != "LOGIN") Fail("SASL_OK for mechanism " + Show(e.mech));
  std::string password, authzid, authcid;
  bool well_formed = false;
  if (e.messages[r.last]) {
    const std::string& m = *e.messages[r.last];
    if (plain) {
      const auto a = m.find('\0');
      const auto b = a == std::string::npos ? a : m.find('\0', a + 1);
      if (b != std::string::npos && m.find('\0', b + 1) == std::string::npos) {
        authzid = m.substr(0, a);
        authcid = m.substr(a + 1, b - a - 1);
        password = m.substr(b + 1);
        well_formed = true;
      }
    } else {
      password = m;
      // LOGIN: the user is the message before the password (the initial response or
      // the answer to "Username:").
      for (std::size_t i = r.last; i-- > 0;)
        if (e.messages[i] && !e.messages[i]->empty()) {
          authcid = *e.messages[i];
          break;
        }
      well_formed = r.last >= 1;
    }
  }
  if (r.rc == SASL_OK) {
    if (!well_formed) Fail("SASL_OK for a malformed exchange");
    if (plain && !authzid.empty() && authzid != authcid)
      Fail("SASL_OK with authorization identity " + Show(authzid) + " for " + Show(authcid));
    if (fuzzutil::Explains(r.username, password, e.service) == nullptr)
      Fail("SASL_OK for user " + Show(r.username) + " password " + Show(password) + " service " +
           Show(e.service) + ": no stored app password explains it");
  } else {
    // A plainly valid PLAIN exchange must succeed.
    const fuzzutil::StoredCred* c = fuzzutil::Explains(authcid, password, e.service);
    if (plain && e.mech == "PLAIN" && well_formed && c != nullptr && authzid.empty() &&
        e.remote_set && e.remote == "192.0.2.7;4321" && r.last + 1 == e.messages.size() &&
        (e.service == "smtp" || e.service == "imap"))
      Fail("refused (" + std::to_string(r.rc) + ") a valid PLAIN login of " + Show(authcid));
  }
  bool secret = false;
  const std::string pw_c(password);
  const std::string n = fuzzutil::Normalize(pw_c);
  for (const auto& c : fuzzutil::TheStore().creds) secret |= n == c.bare;
  if (secret && authcid.find(pw_c) == std::string::npos &&
      authzid.find(pw_c) == std::string::npos && e.service.find(pw_c) == std::string::npos &&
      e.remote.find(pw_c) == std::string::npos)
    for (const auto& line : log)
      if (line.find(pw_c) != std::string::npos)
        Fail("the password is in a log line: " + Show(line));
}

}  // namespace

// libsasl2 2.1.28's sasl_server_new leaks its half-made connection when it refuses the
// parameters (an unparsable client address, which the fuzzer makes often). Not our code,
// and the plugin allocates nothing there.
extern "C" const char* __lsan_default_suppressions() { return "leak:sasl_server_new\n"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzzutil::MakeStore();
  g_plugin_dir = fuzzutil::TheStore().root + "/no-plugins";
  if (mkdir(g_plugin_dir.c_str(), 0755) != 0) Fail("mkdir");
  static const sasl_callback_t cbs[] = {Callback(SASL_CB_GETPATH, &GetPath),
                                        Callback(SASL_CB_GETCONFPATH, &GetConfPath),
                                        Callback(SASL_CB_GETOPT, &GetOpt),
                                        Callback(SASL_CB_LOG, &Log),
                                        {SASL_CB_LIST_END, nullptr, nullptr}};
  if (sasl_server_init(cbs, "fuzz") != SASL_OK) Fail("sasl_server_init");
  if (sasl_server_add_plugin("apppass", sasl_server_plug_init) != SASL_OK)
    Fail("sasl_server_add_plugin");
  std::atexit([] { sasl_server_done(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Exchange e = Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<std::string> log1, log2;
  const Result r1 = Run(e, &log1);
  Check(e, r1, log1);
  const Result r2 = Run(e, &log2);
  Check(e, r2, log2);
  if (r1.rc != r2.rc || r1.username != r2.username)
    Fail("the second connection answered " + std::to_string(r2.rc) + ", the first " +
         std::to_string(r1.rc));
  return 0;
}
