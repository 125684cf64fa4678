// libFuzzer target (a): the whole pam_sm_authenticate of pam_module/pam_apppass.cc, with
// the libpam functions it calls replaced by a fake handle the input controls, against a
// small real store (fuzz_util.h). pam_apppass.cc is compiled into this program.
//
// Input lines (fuzz_util.h for the format and "{K}"):
//   service=NAME   PAM_SERVICE (default imap)     service!   pam_get_item fails
//   rhost=HOST     PAM_RHOST (default: not set)   rhost!     pam_get_item fails
//   user=NAME      pam_get_user (default alice)   user!RC    fails with RC (0: NULL user)
//   pass=BYTES     pam_get_authtok (default "")   pass!RC    fails with RC (0: NULL)
//   mangle=OPS     fuzz_util.h Mangle on the password
//   repeat=N       the password repeated to N bytes (up to 1 MiB)
//   arg=TEXT       one more module argument (the first is always db=STORE)
//   code=TEXT      totp mode: the conversation answers "Verification code: " with TEXT
//   code!RC        ... the conversation fails with RC (0: succeeds with no answer);
//                  without either the conversation fails with PAM_CONV_ERR
//   usage=on       record last use (otherwise "no_usage" is the second argument: opening
//                  the usage database read-write on every acceptance is most of the cost
//                  of an input under ASan, and only some seeds need that path)
//   setdata!RC     pam_set_data fails with RC
//
// Each input is one transaction that calls authenticate twice and acct_mgmt once (state
// carried between calls, in the module or the handle, would show as a different answer).
// Checked:
//   - authenticate returns one of the codes pam_apppass.cc documents, PAM_IGNORE only
//     under unenrolled=ignore and never for an enrolled user (alice, bob, zoë, carol);
//   - totp mode never succeeds (nobody here knows a code of the fuzz store's
//     enrollments), asks only with echo off, and no code shows up in a log line;
//   - account=nss: acct_mgmt answers one of its documented codes, and PAM_SUCCESS only for
//     a user NSS knows;
//   - PAM_SUCCESS only when the user and password are those of an active stored app
//     password valid for the service (fuzz_util.h Explains), the module's arguments name
//     this store, and every libpam call the module needed succeeded;
//   - a plainly valid request (stored user and password, valid arguments, no failing
//     call) is accepted, and one for a revoked or expired password refused;
//   - every answer is the same both times; without account=nss acct_mgmt succeeds only
//     after a success;
//   - one decision line per call, never containing the password.
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <pwd.h>

#include <cstdarg>
#include <map>
#include <memory>

#include "fuzz_util.h"
#include "pam_options.h"

// ---------------------------------------------------------------------------------------
// The fake libpam. One handle per transaction; the module sees only these functions.

struct pam_handle {
  std::string service = "imap";
  bool service_set = true;
  int service_rc = PAM_SUCCESS;
  std::string rhost;
  bool rhost_set = false;
  int rhost_rc = PAM_SUCCESS;
  std::string user = "alice";
  int user_rc = PAM_SUCCESS;
  bool user_null = false;
  std::string authtok;
  int authtok_rc = PAM_SUCCESS;
  bool authtok_null = false;
  // The conversation (totp mode's code prompt).
  std::string code;
  bool code_set = false;
  int conv_rc = PAM_CONV_ERR;
  int prompts = 0, echo_on_prompts = 0;
  pam_conv conv{nullptr, nullptr};
  int set_data_rc = PAM_SUCCESS;
  struct Data {
    void* data;
    void (*cleanup)(pam_handle_t*, void*, int);
  };
  std::map<std::string, Data> data;
  std::vector<std::string> log;

  // pam_end: cleanups run, as libpam runs them.
  void End() {
    for (auto& [name, d] : data)
      if (d.cleanup != nullptr) d.cleanup(this, d.data, PAM_SUCCESS);
    data.clear();
  }
};

// The application's conversation: answers from the handle it is given as appdata.
int FakeConv(int num_msg, const struct pam_message** msg, struct pam_response** resp,
             void* appdata) {
  auto* h = static_cast<pam_handle_t*>(appdata);
  if (num_msg != 1) fuzzutil::Fail("the module asked more than one thing at once");
  ++h->prompts;
  if (msg[0]->msg_style != PAM_PROMPT_ECHO_OFF) ++h->echo_on_prompts;
  if (h->conv_rc != PAM_SUCCESS) return h->conv_rc;
  auto* r = static_cast<pam_response*>(std::calloc(1, sizeof(pam_response)));
  if (r == nullptr) return PAM_BUF_ERR;
  if (h->code_set) r->resp = strdup(h->code.c_str());
  *resp = r;
  return PAM_SUCCESS;
}

extern "C" {

int pam_get_item(const pam_handle_t* pamh, int item_type, const void** item) {
  *item = nullptr;
  switch (item_type) {
    case PAM_SERVICE:
      if (pamh->service_rc != PAM_SUCCESS) return pamh->service_rc;
      *item = pamh->service_set ? pamh->service.c_str() : nullptr;
      return PAM_SUCCESS;
    case PAM_RHOST:
      if (pamh->rhost_rc != PAM_SUCCESS) return pamh->rhost_rc;
      *item = pamh->rhost_set ? pamh->rhost.c_str() : nullptr;
      return PAM_SUCCESS;
    case PAM_CONV: *item = &pamh->conv; return PAM_SUCCESS;
    default: return PAM_BAD_ITEM;
  }
}

int pam_get_user(pam_handle_t* pamh, const char** user, const char*) {
  *user = nullptr;
  if (pamh->user_rc != PAM_SUCCESS) return pamh->user_rc;
  if (!pamh->user_null) *user = pamh->user.c_str();
  return PAM_SUCCESS;
}

int pam_get_authtok(pam_handle_t* pamh, int item, const char** authtok, const char*) {
  *authtok = nullptr;
  if (item != PAM_AUTHTOK) fuzzutil::Fail("pam_get_authtok asked for another item");
  if (pamh->authtok_rc != PAM_SUCCESS) return pamh->authtok_rc;
  if (!pamh->authtok_null) *authtok = pamh->authtok.c_str();
  return PAM_SUCCESS;
}

void pam_vsyslog(const pam_handle_t* pamh, int, const char* fmt, va_list args) {
  char buf[8192];
  std::vsnprintf(buf, sizeof buf, fmt, args);
  const_cast<pam_handle_t*>(pamh)->log.emplace_back(buf);
}

void pam_syslog(const pam_handle_t* pamh, int priority, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  pam_vsyslog(pamh, priority, fmt, args);
  va_end(args);
}

const char* pam_strerror(pam_handle_t*, int errnum) {
  static thread_local char buf[32];
  std::snprintf(buf, sizeof buf, "pam error %d", errnum);
  return buf;
}

int pam_set_data(pam_handle_t* pamh, const char* name, void* data,
                 void (*cleanup)(pam_handle_t*, void*, int)) {
  if (pamh->set_data_rc != PAM_SUCCESS) return pamh->set_data_rc;
  auto it = pamh->data.find(name);
  // libpam replaces an entry of the same name, running its cleanup.
  if (it != pamh->data.end()) {
    if (it->second.cleanup != nullptr) it->second.cleanup(pamh, it->second.data, PAM_SUCCESS);
    pamh->data.erase(it);
  }
  pamh->data[name] = {data, cleanup};
  return PAM_SUCCESS;
}

int pam_get_data(const pam_handle_t* pamh, const char* name, const void** data) {
  *data = nullptr;
  auto it = pamh->data.find(name);
  if (it == pamh->data.end()) return PAM_NO_MODULE_DATA;
  *data = it->second.data;
  return PAM_SUCCESS;
}

}  // extern "C"

namespace {

using fuzzutil::Fail;
using fuzzutil::Show;

struct Request {
  pam_handle_t handle;  // the template each transaction copies
  std::vector<std::string> args;
  bool args_plain = true;  // only arguments known to be valid and naming this store
  std::string scope;       // the last scope= argument
  bool db_ours = true;     // the last db= argument is this store
};

// The users the fuzz store holds a confirmed enrollment for (fuzz_util.h MakeStore).
bool Enrolled(const std::string& user) {
  return user == "alice" || user == "bob" || user == "zo\xc3\xab" || user == "carol";
}

Request Parse(std::string_view in) {
  Request r;
  r.args.push_back("db=" + fuzzutil::TheStore().dir);
  std::string mangle;
  long repeat = -1;
  bool usage = false;
  for (const auto& d : fuzzutil::Directives(in)) {
    std::string value = fuzzutil::Expand(d.value);
    // C strings end at the first NUL: what the module sees of a name or an argument. (The
    // password keeps its bytes, so "mangle=n" and the oracle see the same C string.)
    if (d.key != "pass") value.resize(std::strlen(value.c_str()));
    const bool fail = d.op == '!';
    const int rc = static_cast<int>(fuzzutil::Number(d.value, PAM_SYSTEM_ERR));
    if (d.key == "service") {
      r.handle.service = value;
      r.handle.service_rc = fail ? rc : PAM_SUCCESS;
    } else if (d.key == "rhost") {
      r.handle.rhost = value;
      r.handle.rhost_set = true;
      r.handle.rhost_rc = fail ? rc : PAM_SUCCESS;
    } else if (d.key == "user") {
      r.handle.user = value;
      r.handle.user_rc = fail ? rc : PAM_SUCCESS;
      r.handle.user_null = fail;
    } else if (d.key == "pass") {
      r.handle.authtok = value;
      r.handle.authtok_rc = fail ? rc : PAM_SUCCESS;
      r.handle.authtok_null = fail;
    } else if (d.key == "mangle") {
      mangle = value;
    } else if (d.key == "repeat") {
      repeat = fuzzutil::Number(d.value, -1);
    } else if (d.key == "arg" && r.args.size() < 12) {
      r.args.push_back(value);
      static const std::string_view kPlain[] = {
          "debug",           "use_first_pass",    "try_first_pass",
          "no_usage",        "usage_interval=0",  "usage_interval=60",
          "unenrolled=deny", "unenrolled=ignore", "account=none",
          "account=nss"};
      bool plain = false;
      for (auto p : kPlain) plain |= value == p;
      if (value.starts_with("scope=")) {
        r.scope = value.substr(6);
        plain = r.scope == "imap" || r.scope == "smtp" || r.scope == "pop3";
      }
      if (value.starts_with("db=")) {
        r.db_ours = value == r.args.front();
        plain = r.db_ours;
      }
      r.args_plain &= plain;
    } else if (d.key == "code") {
      r.handle.code = value;
      r.handle.code_set = !fail;
      r.handle.conv_rc = fail ? rc : PAM_SUCCESS;
    } else if (d.key == "usage") {
      usage = true;
    } else if (d.key == "setdata") {
      r.handle.set_data_rc = fail ? rc : PAM_SUCCESS;
    }
  }
  if (!usage) r.args.insert(r.args.begin() + 1, "no_usage");
  if (!mangle.empty()) r.handle.authtok = fuzzutil::Mangle(r.handle.authtok, mangle);
  if (repeat >= 0) r.handle.authtok = fuzzutil::RepeatTo(r.handle.authtok, repeat);
  return r;
}

bool Documented(int rc) {
  return rc == PAM_SUCCESS || rc == PAM_AUTH_ERR || rc == PAM_AUTHINFO_UNAVAIL ||
         rc == PAM_SERVICE_ERR || rc == PAM_BUF_ERR || rc == PAM_IGNORE;
}

// pam_sm_acct_mgmt's codes with account=nss.
bool DocumentedAccount(int rc) {
  return rc == PAM_SUCCESS || rc == PAM_USER_UNKNOWN || rc == PAM_PERM_DENIED ||
         rc == PAM_ACCT_EXPIRED || rc == PAM_AUTH_ERR || rc == PAM_SERVICE_ERR;
}

struct Outcome {
  int auth1, auth2, acct;
};

Outcome Transaction(const Request& r) {
  pam_handle_t h = r.handle;
  h.conv = {FakeConv, &h};
  std::vector<const char*> argv;
  for (const auto& a : r.args) argv.push_back(a.c_str());
  const int argc = static_cast<int>(argv.size());
  Outcome o{};
  o.auth1 = pam_sm_authenticate(&h, 0, argc, argv.data());
  const std::size_t lines1 = h.log.size();
  o.auth2 = pam_sm_authenticate(&h, 0, argc, argv.data());
  const std::size_t lines2 = h.log.size();
  o.acct = pam_sm_acct_mgmt(&h, 0, argc, argv.data());
  h.End();
  if (h.echo_on_prompts != 0) Fail("the module asked for something with echo on");
  if (h.prompts > 2) Fail("the module asked more than once per authenticate call");

  // One decision line per call (plus the debug line and a last-use warning, which are not
  // decisions); the password and the code never appear in any line.
  auto decisions = [&](std::size_t from, std::size_t to) {
    int n = 0;
    for (std::size_t i = from; i < to; ++i)
      if (!h.log[i].starts_with("debug ") && !h.log[i].starts_with("could not record last use"))
        ++n;
    return n;
  };
  if (decisions(0, lines1) != 1 || decisions(lines1, lines2) != 1)
    Fail("not exactly one decision line per authenticate call");
  if (decisions(lines2, h.log.size()) > 1) Fail("more than one line from acct_mgmt");
  // A code that has the form of a secret (6 or more digits, or 12 or more characters of
  // the recovery-code alphabet: never part of the lines' own words) and is not part of
  // anything else that is logged.
  const std::string code_c(h.code.c_str());
  const bool digits = code_c.find_first_not_of("0123456789") == std::string::npos;
  const bool recovery =
      code_c.find_first_not_of("abcdefghjkmnpqrstuvwxyz23456789-") == std::string::npos;
  if (h.code_set && ((digits && code_c.size() >= 6) || (recovery && code_c.size() >= 12))) {
    bool elsewhere = h.user.find(code_c) != std::string::npos ||
                     h.service.find(code_c) != std::string::npos ||
                     h.rhost.find(code_c) != std::string::npos;
    for (const auto& a : r.args) elsewhere |= a.find(code_c) != std::string::npos;
    if (!elsewhere)
      for (const auto& line : h.log)
        if (line.find(code_c) != std::string::npos)
          Fail("the code is in a log line: " + Show(line));
  }
  const std::string& pw = h.authtok;
  const std::string pw_c(pw.c_str());  // what the module saw
  // Only a password that is not also part of what may be logged (user, service, host,
  // arguments) can be looked for.
  bool secret = false;
  if (pw_c.size() <= 4096) {  // a stored password with up to 4 KiB of padding
    const std::string n = fuzzutil::Normalize(pw_c);
    for (const auto& c : fuzzutil::TheStore().creds) secret |= n == c.bare;
  }
  if (secret) {
    bool elsewhere = h.user.find(pw_c) != std::string::npos ||
                     h.service.find(pw_c) != std::string::npos ||
                     h.rhost.find(pw_c) != std::string::npos;
    for (const auto& a : r.args) elsewhere |= a.find(pw_c) != std::string::npos;
    if (!elsewhere)
      for (const auto& line : h.log)
        if (line.find(pw_c) != std::string::npos)
          Fail("the password is in a log line: " + Show(line));
  }
  return o;
}

void CheckOutcome(const Request& r, const Outcome& o) {
  const pam_handle_t& h = r.handle;
  // The options, by the module's own parser (fuzz_parse checks it against the rules).
  apppass::ModuleOptions opts;
  std::vector<std::string_view> args(r.args.begin(), r.args.end());
  const bool options_ok = apppass::ParseModuleOptions(args, &opts).ok();
  const bool ignore = options_ok && opts.unenrolled == apppass::UnenrolledPolicy::kIgnore;
  const bool nss = options_ok && opts.account == apppass::AccountPolicy::kNss;
  for (int rc : {o.auth1, o.auth2}) {
    if (!Documented(rc)) Fail("authenticate returned undocumented code " + std::to_string(rc));
    if (rc == PAM_IGNORE && !ignore)
      Fail("authenticate returned PAM_IGNORE without unenrolled=ignore");
    if (rc == PAM_IGNORE && Enrolled(h.user))
      Fail("authenticate returned PAM_IGNORE for enrolled user " + Show(h.user));
    if (!options_ok && rc != PAM_SERVICE_ERR) Fail("bad options, and not PAM_SERVICE_ERR");
  }
  if (o.auth1 != o.auth2)
    Fail("second authenticate answered " + std::to_string(o.auth2) + ", first " +
         std::to_string(o.auth1));
  if (!options_ok && o.acct != PAM_SERVICE_ERR)
    Fail("bad options, and acct_mgmt not PAM_SERVICE_ERR");
  if (nss) {
    if (!DocumentedAccount(o.acct))
      Fail("acct_mgmt (account=nss) returned " + std::to_string(o.acct));
    const bool known =
        h.user_rc == PAM_SUCCESS && !h.user_null && getpwnam(h.user.c_str()) != nullptr;
    if (o.acct == PAM_SUCCESS && !known) Fail("account=nss passed a user NSS does not know");
  } else if (options_ok) {
    if (o.acct == PAM_SUCCESS && o.auth2 != PAM_SUCCESS)
      Fail("acct_mgmt succeeded without a login");
    if (o.acct != PAM_SUCCESS && o.acct != PAM_IGNORE)
      Fail("acct_mgmt returned " + std::to_string(o.acct));
  }
  if (options_ok && opts.totp) {
    // Nobody here knows a code of the store's enrollments: totp mode never passes.
    if (o.auth1 == PAM_SUCCESS || o.auth2 == PAM_SUCCESS)
      Fail("totp mode accepted " + Show(h.code) + " for " + Show(h.user));
    return;
  }

  const std::string pw_c(h.authtok.c_str());
  const std::string service = !r.scope.empty()                               ? r.scope
                              : h.service_rc == PAM_SUCCESS && h.service_set ? h.service
                                                                             : "";
  const bool calls_ok = h.user_rc == PAM_SUCCESS && !h.user_null && h.authtok_rc == PAM_SUCCESS &&
                        !h.authtok_null && h.set_data_rc == PAM_SUCCESS;
  const fuzzutil::StoredCred* c = fuzzutil::Explains(h.user, pw_c, service);
  if (o.auth1 == PAM_SUCCESS) {
    if (!calls_ok) Fail("PAM_SUCCESS although a libpam call failed");
    if (!r.db_ours) Fail("PAM_SUCCESS for another store");
    if (c == nullptr)
      Fail("PAM_SUCCESS for user " + Show(h.user) + " password " + Show(pw_c) + " service " +
           Show(service) + ": no stored app password explains it");
    if (o.acct != PAM_SUCCESS && !nss) Fail("acct_mgmt refused the user just authenticated");
  } else if (c != nullptr && calls_ok && r.args_plain) {
    Fail("refused (" + std::to_string(o.auth1) + ") a valid app password of " + Show(h.user) +
         " for " + Show(service));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzzutil::MakeStore();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Request r = Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  CheckOutcome(r, Transaction(r));
  return 0;
}
