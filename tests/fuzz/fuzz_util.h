// Shared by the libFuzzer targets: a tiny real store made once per process with the core
// admin API, the app passwords it holds (kept in clear so the fuzzers can check every
// acceptance against them), an oracle for "this password may be accepted" written
// independently of the product code, and the line format the PAM and SASL inputs use.
//
// Input format (PAM and SASL targets): one directive per line, "key=value", the value
// being raw bytes to the end of the line (NULs and invalid UTF-8 included). Unknown lines
// are ignored, so any byte string is an input. In a value, "{K}" (K a digit) stands for
// the stored app password K in display form ("abcd-efgh-..."), generated at startup: the
// store's passwords are random, so seeds refer to them by number.
//
// Header-only: each fuzzer is one translation unit. Aborts (a crash for libFuzzer) on a
// wrong answer, with a message saying which rule was broken.
#pragma once

#include <liboath/oath.h>
#include <sanitizer/common_interface_defs.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin.h"
#include "store.h"

namespace fuzzutil {

inline void RemoveStore();

// abort() skips atexit handlers: the store is removed here (a crashing input reproduces
// with a fresh one).
[[noreturn]] inline void Fail(const std::string& why) {
  std::fprintf(stderr, "fuzz check failed: %s\n", why.c_str());
  std::fflush(stderr);
  RemoveStore();
  std::abort();
}

// Prints a readable form of bytes for failure messages.
inline std::string Show(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  if (s.size() > 200) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

struct StoredCred {
  std::string user;
  std::string display;  // as shown to the user, e.g. "abcd-efgh-jkmn-pqrs-tuvw"
  std::string bare;     // the 20 alphabet characters
  std::vector<std::string> scopes;
  bool active = true;  // false: revoked or expired
  std::string id;
};

struct FuzzStore {
  std::string root;  // temp directory, removed at exit
  std::string dir;   // the store
  std::vector<StoredCred> creds;
};

inline FuzzStore& TheStore() {
  static FuzzStore s;
  return s;
}

inline void RemoveStore() {
  if (TheStore().root.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(TheStore().root, ec);
}

// Independent of common/password.cc: ASCII case folded, spaces, tabs and dashes dropped.
inline std::string Normalize(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '-') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

// The stored credential an acceptance of (user, password, service) can be explained by,
// or nullptr. The rules of README.md: an active app password of exactly that user, whose
// scopes include the service (or that has none), typed as at most 512 bytes without NUL.
inline const StoredCred* Explains(std::string_view user, std::string_view password,
                                  std::string_view service) {
  if (password.size() > 512 || password.find('\0') != std::string_view::npos) return nullptr;
  const std::string n = Normalize(password);
  for (const StoredCred& c : TheStore().creds) {
    if (c.user != user || c.bare != n || !c.active) continue;
    if (!c.scopes.empty()) {
      bool in_scope = false;
      for (const auto& sc : c.scopes) in_scope |= sc == service;
      if (!in_scope) continue;
    }
    return &c;
  }
  return nullptr;
}

inline std::string Totp(const apppass::SecretBuffer& base32, std::int64_t now) {
  char* secret = nullptr;
  size_t len = 0;
  const std::string b32(base32.view());
  if (oath_init() != OATH_OK ||
      oath_base32_decode(b32.c_str(), b32.size(), &secret, &len) != OATH_OK)
    Fail("cannot decode the enrollment secret");
  char otp[16] = {};
  const int rc =
      oath_totp_generate(secret, len, static_cast<time_t>(now), OATH_TOTP_DEFAULT_TIME_STEP_SIZE,
                         OATH_TOTP_DEFAULT_START_TIME, 6, otp);
  std::free(secret);
  if (rc != OATH_OK) Fail("oath_totp_generate failed");
  return otp;
}

inline void Check(const apppass::Status& s, const char* what) {
  if (!s.ok()) Fail(std::string(what) + ": " + s.message());
}

// Makes the store once: alice with five app passwords (every service; imap only; smtp and
// imap; revoked; expired), bob with one for smtp, "zoë" with one for every service, carol
// enrolled without any, dave unknown. Returns with no environment open in this process
// unless `keep_open` is given (LMDB forbids opening one environment twice in a process).
inline void MakeStore(apppass::Store* keep_open = nullptr) {
  FuzzStore& fs = TheStore();
  if (!fs.dir.empty()) return;
  // tmpfs when there is one: the usage database is written on every acceptance.
  const char* env_tmp = std::getenv("TMPDIR");
  std::string base = env_tmp != nullptr && *env_tmp != '\0' ? env_tmp : "/tmp";
  std::string tmpl = base + "/apppass-fuzz.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Fail("mkdtemp in " + base);
  fs.root = tmpl;
  std::atexit(RemoveStore);
  __sanitizer_set_death_callback(RemoveStore);  // after a sanitizer report
  fs.dir = fs.root + "/store";
  Check(apppass::Store::Init(fs.dir), "init");
  apppass::Store store;
  Check(apppass::Store::Open(fs.dir, apppass::Store::Mode::kAdmin, &store), "open");
  const std::int64_t now = std::time(nullptr);
  for (const char* user : {"alice", "bob", "zo\xc3\xab", "carol"}) {
    apppass::EnrollResult e;
    Check(apppass::MfaEnroll(store, user, "fuzz", now - 120, &e), "enroll");
    Check(apppass::MfaConfirm(store, user, Totp(e.base32, now - 60), now - 60), "confirm");
  }
  struct Want {
    const char* user;
    const char* name;
    std::vector<std::string> scopes;
    int kind;  // 0 active, 1 revoked, 2 expired
  };
  const Want wants[] = {{"alice", "phone", {}, 0},
                        {"alice", "imap-only", {"imap"}, 0},
                        {"alice", "mail", {"smtp", "imap"}, 0},
                        {"alice", "old", {}, 1},
                        {"alice", "expired", {}, 2},
                        {"bob", "laptop", {"smtp"}, 0},
                        {"zo\xc3\xab", "tablet", {}, 0}};
  for (const Want& w : wants) {
    apppass::CreateRequest req{.user = w.user,
                               .name = w.name,
                               .scopes = w.scopes,
                               .expires = std::nullopt,
                               .all_services = w.scopes.empty()};
    std::int64_t t = now;
    if (w.kind == 2) {  // created in the past, expired a minute ago
      t = now - 3600;
      req.expires = now - 60;
    }
    apppass::Created c;
    Check(apppass::CreatePassword(store, req, t, &c), "create");
    if (w.kind == 1) {
      std::vector<std::string> ids;
      Check(apppass::RevokePasswords(store, w.user, {.id = c.cred.id, .name = {}, .all = false},
                                     now, &ids),
            "revoke");
    }
    StoredCred sc{.user = w.user,
                  .display = std::string(c.password.view()),
                  .bare = {},
                  .scopes = w.scopes,
                  .active = w.kind == 0,
                  .id = c.cred.id};
    sc.bare = Normalize(sc.display);
    if (sc.bare.size() != 20) Fail("unexpected password format " + sc.display);
    fs.creds.push_back(std::move(sc));
  }
  if (keep_open != nullptr) *keep_open = std::move(store);
}

// Replaces each "{K}" in `s` by stored password K (display form).
inline std::string Expand(std::string_view s) {
  std::string out;
  const auto& creds = TheStore().creds;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{' && i + 2 < s.size() && s[i + 2] == '}' && s[i + 1] >= '0' && s[i + 1] <= '9') {
      const std::size_t k = static_cast<std::size_t>(s[i + 1] - '0');
      if (k < creds.size()) {
        out += creds[k].display;
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Splits the input into (key, value) directives: "key=value" or "key!value" (the '!' form
// means "this call fails", see each fuzzer). At most `max_lines` lines are read.
struct Directive {
  std::string_view key;
  char op = '=';
  std::string_view value;
};

inline std::vector<Directive> Directives(std::string_view in, std::size_t max_lines = 64) {
  std::vector<Directive> out;
  while (!in.empty() && out.size() < max_lines) {
    const std::size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    const std::size_t op = line.find_first_of("=!");
    if (op == std::string_view::npos) continue;
    out.push_back({line.substr(0, op), line[op], line.substr(op + 1)});
  }
  return out;
}

// A small integer from a directive's value ("" or garbage: `def`).
inline long Number(std::string_view v, long def) {
  if (v.empty() || v.size() > 9) return def;
  long n = 0;
  bool neg = false;
  std::size_t i = 0;
  if (v[0] == '-') {
    neg = true;
    i = 1;
  }
  if (i == v.size()) return def;
  for (; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return def;
    n = n * 10 + (v[i] - '0');
  }
  return neg ? -n : n;
}

// Applies mangling operations to a password: u upper case, l lower case, b drop dashes,
// s spaces between groups, x change the last character, t drop the last character,
// a append a character, p pad with spaces to 600 bytes, n append NUL and junk.
inline std::string Mangle(std::string pw, std::string_view ops) {
  for (char op : ops.substr(0, 16)) {
    switch (op) {
      case 'u':
        for (char& c : pw)
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        break;
      case 'l':
        for (char& c : pw)
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        break;
      case 'b': std::erase(pw, '-'); break;
      case 's':
        for (char& c : pw)
          if (c == '-') c = ' ';
        break;
      case 'x':
        if (!pw.empty()) pw.back() = pw.back() == 'a' ? 'b' : 'a';
        break;
      case 't':
        if (!pw.empty()) pw.pop_back();
        break;
      case 'a': pw.push_back('k'); break;
      case 'p':
        if (pw.size() < 600) pw.append(600 - pw.size(), ' ');
        break;
      case 'n': pw += std::string("\0junk", 5); break;
      default: break;
    }
  }
  return pw;
}

// Repeats `s` (or 'a' when empty) to exactly `n` bytes, n up to 1 MiB.
inline std::string RepeatTo(const std::string& s, long n) {
  if (n < 0) n = 0;
  if (n > (1L << 20)) n = 1L << 20;
  const std::string unit = s.empty() ? "a" : s;
  std::string out;
  out.reserve(static_cast<std::size_t>(n));
  while (out.size() < static_cast<std::size_t>(n))
    out.append(unit, 0, std::min(unit.size(), static_cast<std::size_t>(n) - out.size()));
  return out;
}

}  // namespace fuzzutil
