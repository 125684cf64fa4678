// libFuzzer target: what a user types at "Verification code: " (pam_apppass.so totp),
// as arbitrary bytes, into CheckLoginCode (common/second_factor.h) on a real store.
//
// The store (made once, in $TMPDIR): alice and bob with confirmed enrollments and ten
// recovery codes each (kept in clear here for the checks), carol with a pending
// enrollment, dave unknown. Their records are restored before every input, so each input
// starts from the same state: the step before T0's spent, no failures, all codes unused.
//
// Input: byte 0 picks the user (% 4: alice, bob, carol, dave); byte 1 the time (low two
// bits: T0, T0-30, T0+60, T0+3600) and how many times the code is typed (1 + bits 2..4:
// up to 8, enough to reach the throttle); the rest is the code, where
//   {T<d>}  is the selected user's TOTP code of step now+d-2 (d 0..4; dave: alice's),
//   {S<d>}  the same with a space in the middle ("123 456"),
//   {R<k>}  the selected user's recovery code k (display form; carol, dave: alice's),
//   {U<k>}  the same upper-cased, without dashes,
//   {X<k>}  another user's recovery code k (alice's for bob, else bob's).
// Seeds in corpus/fuzz_code; fuzz_code.dict has the directives.
//
// Checked on every call, against an independent statement of the rules (the model
// below: its own normalization, codes computed with liboath's oath_totp_generate, its own
// count of failures): the outcome is exactly the model's (so no code passes unless it
// normalizes to a current code of a step not yet spent or to an unused recovery code of
// that user, and each passes once), recovery_codes_left is right, detail is set where it
// must be and never holds the typed code, the log line (FormatCodeDecision) is one line
// whose result word matches, and the outcome's name round-trips; after the calls the
// stored record is the model's (last step, codes left, failures counted). Also
// NormalizeRecoveryCode on the raw input equals the model's normalization.
#include <lmdb.h>

#include <algorithm>
#include <cctype>

#include "code_throttle.h"
#include "decision_log.h"
#include "fuzz_util.h"
#include "recovery_codes.h"
#include "second_factor.h"
#include "store_internal.h"
#include "totp.h"

namespace {

using fuzzutil::Fail;
using fuzzutil::Show;

// The app password alphabet (password.h), stated again: no 0/o, 1/l/i.
constexpr std::string_view kAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";
constexpr std::size_t kMaxInput = 64;
constexpr int kMaxFailures = 5;

struct FuzzUser {
  std::string name;
  std::string secret;                 // raw TOTP secret ("" for dave)
  std::vector<std::string> recovery;  // display form
  bool confirmed = false;
  std::string raw;  // the user record as made (restored before each input); "" for dave
};

apppass::Store g_store;  // open for administration (the only environment)
std::vector<FuzzUser> g_users;
std::int64_t g_t0 = 0;  // alice's and bob's last spent step is the one before T0's

std::string CodeAt(const std::string& secret, std::int64_t step) {
  char otp[16] = {};
  if (step < 0 || oath_totp_generate(secret.data(), secret.size(), static_cast<time_t>(step * 30),
                                     30, 0, 6, otp) != OATH_OK)
    return "";
  return otp;
}

void Check(const apppass::Status& s, const char* what) { fuzzutil::Check(s, what); }

std::string RawUser(const std::string& user) {
  apppass::LmdbTxn txn;
  Check(apppass::LmdbTxn::Begin(apppass::internal::StoreAccess::env(g_store), false, &txn), "txn");
  std::string_view v;
  const apppass::Status s = txn.Get(apppass::internal::StoreAccess::dbs(g_store).users, user, &v);
  if (s.IsNotFound()) return "";
  Check(s, "read user");
  return std::string(v);
}

void Setup() {
  fuzzutil::FuzzStore& fs = fuzzutil::TheStore();
  const char* env_tmp = std::getenv("TMPDIR");
  const std::string base = env_tmp != nullptr && *env_tmp != '\0' ? env_tmp : "/tmp";
  std::string tmpl = base + "/apppass-fuzz-code.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Fail("mkdtemp in " + base);
  fs.root = tmpl;
  std::atexit(fuzzutil::RemoveStore);
  __sanitizer_set_death_callback(fuzzutil::RemoveStore);
  fs.dir = fs.root + "/store";
  Check(apppass::Store::Init(fs.dir), "init");
  Check(apppass::Store::Open(fs.dir, apppass::Store::Mode::kAdmin, &g_store), "open");
  // A throwaway store: no fsync on commit (every input commits several times), the
  // transactions themselves are as the product makes them.
  mdb_env_set_flags(apppass::internal::StoreAccess::env(g_store).get(), MDB_NOSYNC, 1);
  g_t0 = std::time(nullptr) / 30 * 30 + 15;
  for (const char* name : {"alice", "bob", "carol", "dave"}) {
    FuzzUser u;
    u.name = name;
    if (u.name != "dave") {
      apppass::EnrollResult e;
      Check(apppass::MfaEnroll(g_store, u.name, "fuzz", g_t0 - 60, &e), "enroll");
      char* raw = nullptr;
      size_t len = 0;
      const std::string b32(e.base32.view());
      if (oath_base32_decode(b32.c_str(), b32.size(), &raw, &len) != OATH_OK) Fail("base32");
      u.secret.assign(raw, len);
      std::free(raw);
    }
    if (u.name == "alice" || u.name == "bob") {
      std::vector<apppass::SecretBuffer> codes;
      Check(apppass::MfaConfirm(g_store, u.name, CodeAt(u.secret, (g_t0 - 30) / 30), g_t0 - 30,
                                &codes),
            "confirm");
      if (codes.size() != 10) Fail("confirm made no recovery codes");
      for (const auto& c : codes) u.recovery.emplace_back(c.view());
      u.confirmed = true;
    }
    u.raw = RawUser(u.name);
    g_users.push_back(std::move(u));
  }
}

void Restore() {
  apppass::LmdbTxn txn;
  Check(apppass::LmdbTxn::Begin(apppass::internal::StoreAccess::env(g_store), true, &txn), "txn");
  for (const FuzzUser& u : g_users)
    if (!u.raw.empty())
      Check(txn.Put(apppass::internal::StoreAccess::dbs(g_store).users, u.name, u.raw), "restore");
  Check(txn.Commit(), "restore commit");
}

// The model's recovery-code rule: spaces and dashes dropped, ASCII letters lower-cased,
// then exactly 12 characters of the alphabet; "" when not a recovery code.
std::string ModelNormalize(std::string_view in) {
  if (in.size() > kMaxInput) return "";
  std::string out;
  for (char c : in) {
    if (c == ' ' || c == '-') continue;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (kAlphabet.find(c) == std::string_view::npos) return "";
    out.push_back(c);
  }
  return out.size() == 12 ? out : "";
}

struct Model {
  std::int64_t last_step = -1;
  std::vector<std::string> unused;  // normalized
  int failures = 0;
};

struct Expect {
  apppass::CodeOutcome outcome;
  int left = -1;
};

// What CheckLoginCode must answer for `u` typing `code` at `now` (all calls of one input
// at the same time, inside one throttle window), updating `m` as the store must change.
Expect Predict(const FuzzUser& u, Model& m, std::string_view code, std::int64_t now) {
  using apppass::CodeOutcome;
  if (code.empty() || code.size() > kMaxInput || code.find('\0') != std::string_view::npos)
    return {CodeOutcome::kBadInput};
  if (!u.confirmed) return {CodeOutcome::kNotEnrolled};
  if (m.failures >= kMaxFailures) return {CodeOutcome::kThrottled};
  std::string typed;
  for (char c : code)
    if (c != ' ') typed.push_back(c);
  std::int64_t matched = -1;
  if (typed.size() == 6)
    for (std::int64_t s = now / 30 - 1; s <= now / 30 + 1; ++s)
      if (CodeAt(u.secret, s) == typed) matched = s;
  if (matched > m.last_step) {
    m.last_step = matched;
    m.failures = 0;
    return {CodeOutcome::kAccepted};
  }
  const std::string n = ModelNormalize(code);
  const auto it = n.empty() ? m.unused.end() : std::find(m.unused.begin(), m.unused.end(), n);
  if (it != m.unused.end()) {
    m.unused.erase(it);
    m.failures = 0;
    return {CodeOutcome::kRecoveryCode, static_cast<int>(m.unused.size())};
  }
  ++m.failures;
  return {matched >= 0 ? CodeOutcome::kReusedCode : CodeOutcome::kWrongCode};
}

std::string Upper(std::string s) {
  std::string out;
  for (char c : s)
    if (c != '-') out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

// The code typed: the input with its directives replaced.
std::string Expand(std::string_view in, const FuzzUser& u, std::int64_t now) {
  const FuzzUser& alice = g_users[0];
  const FuzzUser& bob = g_users[1];
  const std::string& secret = u.secret.empty() ? alice.secret : u.secret;
  const FuzzUser& own = u.recovery.empty() ? alice : u;
  const FuzzUser& other = u.name == "alice" ? bob : alice;
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '{' && i + 3 < in.size() && in[i + 3] == '}' && in[i + 2] >= '0' &&
        in[i + 2] <= '9') {
      const int d = in[i + 2] - '0';
      const char kind = in[i + 1];
      const std::int64_t step = now / 30 + d - 2;
      std::string sub;
      bool known = true;
      switch (kind) {
        case 'T': known = d <= 4 && !(sub = CodeAt(secret, step)).empty(); break;
        case 'S':
          known = d <= 4 && !(sub = CodeAt(secret, step)).empty();
          if (known) sub.insert(3, " ");
          break;
        case 'R': sub = own.recovery[static_cast<std::size_t>(d)]; break;
        case 'U': sub = Upper(own.recovery[static_cast<std::size_t>(d)]); break;
        case 'X': sub = other.recovery[static_cast<std::size_t>(d)]; break;
        default: known = false;
      }
      if (known) {
        out += sub;
        i += 3;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

int Digits(std::string_view s) {
  return static_cast<int>(
      std::count_if(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }));
}

void CheckNormalize(std::string_view in) {
  apppass::SecretBuffer out(kMaxInput);
  if (!out.valid()) Fail("secure memory");
  const apppass::Status s = apppass::NormalizeRecoveryCode(in, out);
  const std::string want = ModelNormalize(in);
  if (s.ok() != !want.empty() || (s.ok() && out.view() != want))
    Fail("NormalizeRecoveryCode(" + Show(in) + ") = " + (s.ok() ? Show(out.view()) : "refused") +
         ", model: " + (want.empty() ? "refused" : want));
  if (!s.ok() && s.code() != apppass::Status::Code::kInvalidArgument)
    Fail("NormalizeRecoveryCode refused with another code");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using apppass::CodeOutcome;
  if (g_users.empty()) Setup();
  if (size < 2) return 0;
  const FuzzUser& u = g_users[data[0] % 4];
  static constexpr std::int64_t kTimes[] = {0, -30, 60, 3600};
  const std::int64_t now = g_t0 + kTimes[data[1] & 3];
  const int repeats = 1 + ((data[1] >> 2) & 7);
  const std::string code =
      Expand(std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2), u, now);
  CheckNormalize(code);

  Restore();
  Model m;
  m.last_step = u.confirmed ? (g_t0 - 30) / 30 : -1;
  for (const auto& r : u.recovery) m.unused.push_back(ModelNormalize(r));
  for (int call = 0; call < repeats; ++call) {
    const Expect want = Predict(u, m, code, now);
    const apppass::CodeDecision d = apppass::CheckLoginCode(g_store, u.name, code, now);
    const std::string where = u.name + " typed " + Show(code) + " at T0" +
                              (now >= g_t0 ? "+" : "") + std::to_string(now - g_t0) + ", call " +
                              std::to_string(call + 1);
    if (d.outcome != want.outcome)
      Fail(where + ": " + std::string(apppass::CodeOutcomeName(d.outcome)) + ", model says " +
           std::string(apppass::CodeOutcomeName(want.outcome)) + " (" + d.detail + ")");
    if (d.recovery_codes_left != want.left)
      Fail(where + ": recovery_codes_left " + std::to_string(d.recovery_codes_left) + ", want " +
           std::to_string(want.left));
    const bool needs_detail = d.outcome == CodeOutcome::kBadInput ||
                              d.outcome == CodeOutcome::kThrottled ||
                              d.outcome == CodeOutcome::kUnavailable;
    if (needs_detail == d.detail.empty()) Fail(where + ": detail '" + d.detail + "'");
    // Every message has at most two digits in a row; a code of three or more is never in it.
    if (Digits(code) >= 3 && !code.empty() && d.detail.find(code) != std::string::npos)
      Fail(where + ": the code is in the detail");
    if (apppass::CodeOutcomeFromName(apppass::CodeOutcomeName(d.outcome)) != d.outcome)
      Fail(where + ": outcome name does not round-trip");
    // No digits in the context: a code of digits found in the line can only be the code.
    const std::string line = apppass::FormatCodeDecision({"sshd", u.name, ""}, d);
    const char* word = apppass::CodePassed(d.outcome)           ? "accepted "
                       : d.outcome == CodeOutcome::kUnavailable ? "error "
                                                                : "refused ";
    if (line.find('\n') != std::string::npos || line.rfind(word, 0) != 0 ||
        line.find(" factor=totp") == std::string::npos)
      Fail(where + ": log line " + Show(line));
    if (Digits(code) >= 3 && !code.empty() && line.find(code) != std::string::npos)
      Fail(where + ": the code is in the log line");
  }
  // What the store holds is what the model says.
  if (u.confirmed) {
    apppass::UserRecord rec;
    Check(apppass::MfaGet(g_store, u.name, &rec), "MfaGet");
    if (rec.last_step != m.last_step || rec.recovery.size() != m.unused.size() ||
        rec.code_failures != m.failures)
      Fail(u.name + " typed " + Show(code) + ": stored last_step " + std::to_string(rec.last_step) +
           " codes " + std::to_string(rec.recovery.size()) + " failures " +
           std::to_string(rec.code_failures) + "; model " + std::to_string(m.last_step) + " " +
           std::to_string(m.unused.size()) + " " + std::to_string(m.failures));
  } else if (RawUser(u.name) != u.raw) {
    Fail(u.name + " typed " + Show(code) +
         ": the record of a user without a confirmed "
         "enrollment changed");
  }
  return 0;
}
