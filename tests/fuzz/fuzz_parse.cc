// libFuzzer target (c, first half): the parsers that see untrusted text before the store
// does. The first byte of the input chooses one ('0'..'5'); the rest is its input. Each
// parser runs twice and must answer the same both times; each answer is compared with an
// independent statement of the rule in README.md / the headers:
//   '0'  ParseModuleOptions (pam_module/pam_options.h): one argument a line
//   '1'  ParseSaslOptions (sasl_plugin/sasl_options.h): "key=value" lines
//   '2'  NormalizePassword (common/password.h): exact result against fuzz_util.h Normalize
//   '3'  ParsePlain, CheckLoginUser, CheckLoginPassword (sasl_plugin/messages.h)
//   '4'  user names, labels, scopes, UTF-8, durations, timestamps, log escaping (text.h)
//   '5'  ForeignMechanisms (mech_list warnings)
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>

#include "fuzz_util.h"
#include "messages.h"
#include "pam_options.h"
#include "password.h"
#include "sasl_options.h"
#include "text.h"

namespace {

using fuzzutil::Fail;
using fuzzutil::Show;

std::vector<std::string_view> Lines(std::string_view in) {
  std::vector<std::string_view> out;
  while (!in.empty() && out.size() < 32) {
    const std::size_t nl = in.find('\n');
    out.push_back(in.substr(0, nl));
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  }
  return out;
}

bool Same(const apppass::Status& a, const apppass::Status& b) {
  return a.code() == b.code() && a.message() == b.message();
}

bool IsScope(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return ok(c) || c == '.' || c == '_' || c == '-'; });
}

// A UNIX socket path as the options take it: absolute, fits sun_path with its NUL, no
// control characters (other bytes are the file system's business).
bool IsSocketPath(std::string_view s) {
  if (s.empty() || s[0] != '/' || s.size() > 107) return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Well-formed UTF-8 by the table of the Unicode standard (3.9, table 3-7), written
// differently from text.cc on purpose.
bool Utf8Reference(std::string_view s) {
  std::size_t i = 0;
  auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
    if (i + k >= s.size()) return false;
    const auto c = static_cast<unsigned char>(s[i + k]);
    return c >= lo && c <= hi;
  };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    if (c <= 0x7F) len = 1;
    else if (c >= 0xC2 && c <= 0xDF && in(1, 0x80, 0xBF)) len = 2;
    else if (c == 0xE0 && in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF)) len = 3;
    else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && in(1, 0x80, 0xBF) &&
             in(2, 0x80, 0xBF))
      len = 3;
    else if (c == 0xED && in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF)) len = 3;
    else if (c == 0xF0 && in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) len = 4;
    else if (c >= 0xF1 && c <= 0xF3 && in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF))
      len = 4;
    else if (c == 0xF4 && in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) len = 4;
    else return false;
    i += len;
  }
  return true;
}

void ModuleOptions(std::string_view in) {
  const auto lines = Lines(in);
  // C strings: what libpam hands the module ends at the first NUL.
  std::vector<std::string> owned;
  for (auto l : lines) owned.emplace_back(std::string(l).c_str());
  std::vector<std::string_view> args(owned.begin(), owned.end());
  apppass::ModuleOptions a, b;
  const apppass::Status s1 = apppass::ParseModuleOptions(args, &a);
  const apppass::Status s2 = apppass::ParseModuleOptions(args, &b);
  auto same_values = [](const apppass::ModuleOptions& x, const apppass::ModuleOptions& y) {
    return x.db == y.db && x.scope == y.scope && x.usage_interval == y.usage_interval &&
           x.broker == y.broker && x.debug == y.debug && x.use_first_pass == y.use_first_pass &&
           x.try_first_pass == y.try_first_pass && x.no_usage == y.no_usage && x.totp == y.totp &&
           x.unenrolled == y.unenrolled && x.account == y.account;
  };
  if (!Same(s1, s2) || !same_values(a, b)) Fail("ParseModuleOptions answered differently twice");
  // Independent statement of the rules: the answer is ok exactly when every argument is one
  // of the documented forms; on ok the fields hold the last value of each.
  bool want_ok = true;
  apppass::ModuleOptions want;
  for (std::string_view arg : args) {
    if (arg.starts_with("db=") && arg.size() > 3 && arg[3] == '/') want.db = arg.substr(3);
    else if (arg.starts_with("broker=") && IsSocketPath(arg.substr(7))) want.broker = arg.substr(7);
    else if (arg.starts_with("scope=") && IsScope(arg.substr(6))) want.scope = arg.substr(6);
    else if (arg.starts_with("usage_interval=")) {
      // A decimal number 0..86400 (std::from_chars: leading zeros and "-0" are numbers).
      std::string_view v = arg.substr(15);
      const bool neg = v.starts_with('-');
      if (neg) v.remove_prefix(1);
      bool digits = !v.empty();
      for (char c : v) digits &= c >= '0' && c <= '9';
      while (v.size() > 1 && v.front() == '0') v.remove_prefix(1);
      const long n = digits && v.size() <= 6 ? std::stol(std::string(v)) : -1;
      if (!digits || n < 0 || n > 86400 || (neg && n != 0)) want_ok = false;
      else want.usage_interval = n;
    } else if (arg == "unenrolled=deny") want.unenrolled = apppass::UnenrolledPolicy::kDeny;
    else if (arg == "unenrolled=ignore") want.unenrolled = apppass::UnenrolledPolicy::kIgnore;
    else if (arg == "account=none") want.account = apppass::AccountPolicy::kNone;
    else if (arg == "account=nss") want.account = apppass::AccountPolicy::kNss;
    else if (arg == "debug") want.debug = true;
    else if (arg == "use_first_pass") want.use_first_pass = true;
    else if (arg == "try_first_pass") want.try_first_pass = true;
    else if (arg == "no_usage") want.no_usage = true;
    else if (arg == "totp") want.totp = true;
    else {
      want_ok = false;
    }
  }
  if (s1.ok() != want_ok)
    Fail("ParseModuleOptions " + std::string(s1.ok() ? "accepted" : "refused") + " " +
         Show(std::string(in)) + ": " + s1.message());
  if (s1.ok() && !same_values(a, want))
    Fail("ParseModuleOptions kept other values than the last ones (or flags not given)");
  if (!s1.ok() && s1.code() != apppass::Status::Code::kInvalidArgument)
    Fail("ParseModuleOptions failed with another code than InvalidArgument");
}

void SaslOptions(std::string_view in) {
  std::map<std::string, std::string> kv;
  for (auto line : Lines(in)) {
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    kv[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1)).c_str();
  }
  auto lookup = [&](std::string_view key) -> const char* {
    auto it = kv.find(std::string(key));
    return it == kv.end() ? nullptr : it->second.c_str();
  };
  apppass::SaslOptions a, b;
  const apppass::Status s1 = apppass::ParseSaslOptions(lookup, &a);
  const apppass::Status s2 = apppass::ParseSaslOptions(lookup, &b);
  if (!Same(s1, s2) || a.db != b.db || a.scope != b.scope || a.usage != b.usage ||
      a.allow_authzid != b.allow_authzid)
    Fail("ParseSaslOptions answered differently twice");
  bool any = false;
  for (auto key : apppass::kSaslOptionKeys) any |= lookup(key) != nullptr;
  if (s1.IsNotFound() != !any) Fail("ParseSaslOptions: NotFound exactly when nothing is set");
  if (!s1.ok()) return;
  // apppass_broker alone names the default store; a bad socket path is never accepted.
  const char* broker = lookup("apppass_broker");
  if (broker != nullptr && !IsSocketPath(broker))
    Fail("ParseSaslOptions accepted apppass_broker " + Show(broker));
  if (a.broker != (broker != nullptr ? std::string(broker) : apppass::broker::kDefaultSocket))
    Fail("ParseSaslOptions: broker is not what was written");
  const char* db = lookup("apppass_db");
  if (db == nullptr && broker != nullptr) db = "/var/lib/apppass";
  if (db == nullptr || db[0] != '/' || a.db != db)
    Fail("ParseSaslOptions: db not the absolute apppass_db");
  auto yes = [](const char* v) {
    return v != nullptr && (!std::strcmp(v, "yes") || !std::strcmp(v, "true") ||
                            !std::strcmp(v, "on") || !std::strcmp(v, "1"));
  };
  if (a.allow_authzid != yes(lookup("apppass_allow_authzid")))
    Fail("ParseSaslOptions: allow_authzid is not what was written");
  if (a.usage != (lookup("apppass_usage") == nullptr || yes(lookup("apppass_usage"))))
    Fail("ParseSaslOptions: usage is not what was written");
  if (!a.scope.empty() && !IsScope(a.scope))
    Fail("ParseSaslOptions accepted scope " + Show(a.scope));
  if (a.usage_interval < 0 || a.usage_interval > 86400)
    Fail("ParseSaslOptions: interval out of range");
}

void Password(std::string_view in) {
  apppass::SecretBuffer out1(apppass::kMaxPasswordInput), out2(apppass::kMaxPasswordInput);
  if (!out1.valid() || !out2.valid()) Fail("sodium_malloc");
  const apppass::Status s1 = apppass::NormalizePassword(in, out1);
  const apppass::Status s2 = apppass::NormalizePassword(in, out2);
  if (!Same(s1, s2) || out1.view() != out2.view())
    Fail("NormalizePassword answered differently twice");
  const std::string n = fuzzutil::Normalize(in);
  bool want = !in.empty() && in.size() <= apppass::kMaxPasswordInput && n.size() == 20;
  for (char c : n) want &= apppass::kPasswordAlphabet.find(c) != std::string_view::npos;
  if (s1.ok() != want)
    Fail("NormalizePassword " + std::string(s1.ok() ? "accepted " : "refused ") + Show(in));
  if (s1.ok() ? out1.view() != n : out1.size() != 0)
    Fail("NormalizePassword output " + Show(out1.view()));
}

void Messages(std::string_view in) {
  apppass::PlainMessage m1, m2;
  const auto e1 = apppass::ParsePlain(in, &m1);
  const auto e2 = apppass::ParsePlain(in, &m2);
  if (e1.has_value() != e2.has_value() || m1.authcid != m2.authcid || m1.password != m2.password)
    Fail("ParsePlain answered differently twice");
  // RFC 4616 with our bounds, stated independently.
  const auto nuls = std::count(in.begin(), in.end(), '\0');
  bool want = nuls == 2;
  std::string_view z, c, p;
  if (want) {
    const auto a = in.find('\0'), b = in.find('\0', a + 1);
    z = in.substr(0, a);
    c = in.substr(a + 1, b - a - 1);
    p = in.substr(b + 1);
    want = z.size() <= 256 && !c.empty() && c.size() <= 256 && !p.empty() && p.size() <= 512;
  }
  if (e1.has_value() == want)
    Fail("ParsePlain " + std::string(want ? "refused " : "accepted ") + Show(in));
  if (want && (m1.authzid != z || m1.authcid != c || m1.password != p))
    Fail("ParsePlain split wrongly");
  if (!want && (!m1.authcid.empty() || !m1.password.empty()))
    Fail("ParsePlain left fields after an error");
  // Views point into the input: nothing was copied.
  if (want && (m1.password.data() < in.data() ||
               m1.password.data() + m1.password.size() > in.data() + in.size()))
    Fail("ParsePlain copied the password");
  const bool nul = in.find('\0') != std::string_view::npos;
  if (apppass::CheckLoginUser(in).has_value() != (in.empty() || in.size() > 256 || nul))
    Fail("CheckLoginUser " + Show(in));
  if (apppass::CheckLoginPassword(in).has_value() != (in.empty() || in.size() > 512 || nul))
    Fail("CheckLoginPassword " + Show(in));
}

void Text(std::string_view in) {
  const bool utf8 = apppass::IsValidUtf8(in);
  if (utf8 != apppass::IsValidUtf8(in)) Fail("IsValidUtf8 answered differently twice");
  if (utf8 != Utf8Reference(in))
    Fail("IsValidUtf8 says " + std::to_string(utf8) + " for " + Show(in));
  bool control = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto ch = static_cast<unsigned char>(in[i]);
    control |= ch < 0x20 || ch == 0x7f ||
               (ch == 0xc2 && i + 1 < in.size() && static_cast<unsigned char>(in[i + 1]) < 0xa0);
  }
  const bool user_ok = apppass::ValidateUserName(in).ok();
  if (user_ok != (!in.empty() && in.size() <= 256 && utf8 && !control))
    Fail("ValidateUserName " + std::string(user_ok ? "accepted " : "refused ") + Show(in));
  const bool label_ok = apppass::ValidateLabel(in).ok();
  if (label_ok && (in.empty() || in.size() > 64 || !utf8 || control))
    Fail("ValidateLabel accepted " + Show(in));
  if (apppass::ValidateScope(in).ok() != IsScope(in)) Fail("ValidateScope " + Show(in));
  if (const auto d = apppass::ParseDuration(in); d && (*d <= 0 || *d > 100LL * 366 * 86400))
    Fail("ParseDuration gave " + std::to_string(*d) + " for " + Show(in));
  std::int64_t t = 0;
  std::memcpy(&t, in.data(), std::min(in.size(), sizeof t));
  const std::string iso = apppass::FormatIsoUtc(t);
  // Years before 1000 or after 9999 have other widths; the shape stays.
  if (iso != "invalid-time" &&
      (iso.size() < 17 || iso.back() != 'Z' || iso.find('T') == std::string::npos))
    Fail("FormatIsoUtc gave " + iso);
  for (std::size_t max : {std::size_t{0}, std::size_t{1}, std::size_t{40}, std::size_t{128}}) {
    const std::string safe = apppass::LogSafe(in, max);
    if (safe.empty() || safe.size() > 4 * max + 4)
      Fail("LogSafe length " + std::to_string(safe.size()));
    for (char ch : safe) {
      const auto c = static_cast<unsigned char>(ch);
      if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=') Fail("LogSafe let through " + Show(safe));
    }
    const std::string text = apppass::LogText(in, max);
    for (char ch : text) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c >= 0x7f || c == '"') Fail("LogText let through " + Show(text));
    }
  }
}

void Mechanisms(std::string_view in) {
  const auto a = apppass::ForeignMechanisms(in);
  if (a != apppass::ForeignMechanisms(in)) Fail("ForeignMechanisms answered differently twice");
  for (const auto& m : a) {
    std::string up = m;
    for (char& c : up)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (up == "PLAIN" || up == "LOGIN" || m.empty()) Fail("ForeignMechanisms listed " + Show(m));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sodium_init() < 0) Fail("sodium_init");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: ModuleOptions(in); break;
    case 1: SaslOptions(in); break;
    case 2: Password(in); break;
    case 3: Messages(in); break;
    case 4: Text(in); break;
    default: Mechanisms(in); break;
  }
  return 0;
}
