#include "mfa_import.h"

#include <pwd.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "files.h"
#include "text.h"
#include "totp.h"

namespace apppass {

namespace {

constexpr std::string_view kSupported =
    "apppass imports only time-based codes of 6 digits every 30 s";

// Splits `s` into lines ('\n'; a trailing '\r' is dropped), numbered from 1.
class Lines {
 public:
  explicit Lines(std::string_view s) : rest_(s) {}
  bool Next(std::string_view* line, int* number) {
    if (done_) return false;
    const auto nl = rest_.find('\n');
    *line = rest_.substr(0, nl);
    if (nl == std::string_view::npos) {
      done_ = true;
      if (line->empty()) return false;  // no line after a final newline
    } else {
      rest_.remove_prefix(nl + 1);
    }
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    *number = ++number_;
    return true;
  }

 private:
  std::string_view rest_;
  int number_ = 0;
  bool done_ = false;
};

// Splits `s` at runs of the characters in `seps`.
std::vector<std::string_view> Fields(std::string_view s, std::string_view seps = " \t") {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && seps.find(s[i]) != std::string_view::npos) ++i;
    std::size_t j = i;
    while (j < s.size() && seps.find(s[j]) == std::string_view::npos) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// A decimal integer in [min, max] (an optional '-' only when min < 0).
bool ParseInt(std::string_view s, std::int64_t min, std::int64_t max, std::int64_t* out) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

// Each returns a Status that names the file (and line) and says what is wrong.
Status Malformed(std::string_view path, int line, std::string_view what) {
  return Status::InvalidArgument(line > 0 ? fmt::format("{} line {}: {}", LogText(path), line, what)
                                          : fmt::format("{}: {}", LogText(path), what));
}
Status Refused(std::string_view path, std::string_view what) {
  return Status::PermissionDenied(fmt::format("{}: {}", LogText(path), what));
}

// Checks a decoded secret's length.
Status CheckSecretLength(std::size_t bytes, std::string_view path, int line) {
  if (bytes < kMinImportSecretBytes)
    return Malformed(path, line,
                     fmt::format("the secret has only {} bits; at least {} are needed", bytes * 8,
                                 kMinImportSecretBytes * 8));
  if (bytes > kMaxImportSecretBytes)
    return Malformed(path, line,
                     fmt::format("the secret is longer than {} bytes", kMaxImportSecretBytes));
  return Status::Ok();
}

// Base32 as pam_google_authenticator decodes it, so that any secret it accepts means the
// same key here: case-insensitive A-Z 2-7, spaces, tabs and dashes skipped, the
// look-alikes 0, 1 and 8 read as O, L and B; no padding. Leftover bits are dropped.
Status DecodeBase32(std::string_view text, std::string_view path, SecretBuffer* out) {
  SecretBuffer raw(text.size() * 5 / 8 + 1);
  if (!raw.valid()) return Status::Internal("out of secure memory");
  unsigned buffer = 0;
  int bits = 0;
  bool ok = true;
  for (char ch : text) {
    if (ch == ' ' || ch == '\t' || ch == '-') continue;
    if (ch == '0') ch = 'O';
    if (ch == '1') ch = 'L';
    if (ch == '8') ch = 'B';
    unsigned v = 0;
    if (ch >= 'A' && ch <= 'Z') v = static_cast<unsigned>(ch - 'A');
    else if (ch >= 'a' && ch <= 'z') v = static_cast<unsigned>(ch - 'a');
    else if (ch >= '2' && ch <= '7') v = static_cast<unsigned>(ch - '2' + 26);
    else {
      ok = false;
      break;
    }
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      raw.push_back(static_cast<unsigned char>(buffer >> bits));
      buffer &= (1u << bits) - 1;
    }
  }
  sodium_memzero(&buffer, sizeof buffer);
  if (!ok) return Malformed(path, 1, "the first line is not a base32 secret");
  Status s = CheckSecretLength(raw.size(), path, 1);
  if (!s.ok()) return s;
  *out = std::move(raw);
  return Status::Ok();
}

// Hex as liboath reads it (oath_hex2bin): pairs of 0-9 a-f A-F.
Status DecodeHex(std::string_view text, std::string_view path, int line, SecretBuffer* out) {
  // liboath's usersfile reader keeps at most 32 bytes: a longer secret fails in pam_oath.
  constexpr std::size_t kOathMaxSecret = 32;
  if (text.size() % 2 != 0 ||
      text.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
    return Malformed(path, line, "the secret is not hexadecimal");
  if (text.size() / 2 > kOathMaxSecret)
    return Malformed(path, line,
                     fmt::format("the secret is longer than {} bytes, which pam_oath "
                                 "cannot use either",
                                 kOathMaxSecret));
  Status s = CheckSecretLength(text.size() / 2, path, line);
  if (!s.ok()) return s;
  SecretBuffer raw(text.size() / 2);
  std::size_t len = 0;
  if (!raw.valid()) return Status::Internal("out of secure memory");
  if (sodium_hex2bin(raw.data(), raw.capacity(), text.data(), text.size(), nullptr, &len,
                     nullptr) != 0 ||
      len != text.size() / 2)
    return Malformed(path, line, "the secret is not hexadecimal");
  raw.resize(len);
  *out = std::move(raw);
  return Status::Ok();
}

// Reads a whole OTP file (at most kMaxOtpFileBytes) into secure memory.
Status ReadOtpFile(const std::string& path, std::optional<uid_t> user_uid, SecretBuffer* out) {
  FileRule rule{.allow_world_read = false};
  if (user_uid) rule.other_owner = *user_uid;
  Fd fd;
  struct stat st {};
  Status s = OpenChecked(path, rule, &fd, &st);
  if (s.IsNotFound()) return s;
  if (!s.ok()) return Status::PermissionDenied(s.message());
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > kMaxOtpFileBytes)
    return Malformed(path, 0, "larger than 64 KiB; not an OTP file");
  // One byte more than the size found, to notice a file that grew meanwhile.
  SecretBuffer buf(static_cast<std::size_t>(st.st_size) + 1);
  if (!buf.valid()) return Status::Internal("out of secure memory");
  std::size_t got = 0;
  while (got < buf.capacity()) {
    const ssize_t r = ::read(fd.get(), buf.data() + got, buf.capacity() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::PermissionDenied(fmt::format("cannot read {}", LogText(path)));
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  if (got == buf.capacity()) return Malformed(path, 0, "changed while it was read; try again");
  buf.resize(got);
  *out = std::move(buf);
  return Status::Ok();
}

// Checks what every OTP file must satisfy before its lines are looked at.
Status CheckText(std::string_view contents, std::string_view path) {
  if (contents.size() > kMaxOtpFileBytes)
    return Malformed(path, 0, "larger than 64 KiB; not an OTP file");
  if (contents.find('\0') != std::string_view::npos)
    return Malformed(path, 0, "contains NUL bytes");
  return Status::Ok();
}

}  // namespace

Status ParseGoogleAuthenticator(std::string_view contents, std::string_view path,
                                ExistingTotp* out) {
  Status s = CheckText(contents, path);
  if (!s.ok()) return s;
  Lines lines(contents);
  std::string_view line;
  int n = 0;
  if (contents.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return Malformed(path, 0, "the file is empty");
  if (!lines.Next(&line, &n) || line.find_first_not_of(" \t") == std::string_view::npos)
    return Malformed(path, 1, "the first line must be the base32 secret");
  ExistingTotp r;
  if (!(s = DecodeBase32(line, path, &r.secret)).ok()) return s;

  bool totp = false, hotp = false, disabled = false;
  std::int64_t step = 30;
  std::vector<std::string> seen;
  while (lines.Next(&line, &n)) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (line.front() != '"') {
      // Scratch codes: eight digits, the first not 0 (as the module reads them).
      if (line.size() == 8 && AllDigits(line) && line.front() != '0') continue;
      return Malformed(path, n, "neither an option (\" NAME) nor an 8-digit scratch code");
    }
    if (line.size() < 3 || line[1] != ' ')
      return Malformed(path, n, "an option line must start with '\" ' and a name");
    const std::vector<std::string_view> f = Fields(line.substr(2));
    if (f.empty() || line[2] == ' ' || line[2] == '\t' || f[0].front() < 'A' ||
        f[0].front() > 'Z' ||
        f[0].find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string_view::npos)
      return Malformed(path, n, "an option name must be upper-case letters, digits and '_'");
    const std::string name(f[0]);
    const std::vector<std::string_view> args(f.begin() + 1, f.end());
    for (const auto& prev : seen)
      if (prev == name) return Malformed(path, n, fmt::format("option {} appears twice", name));
    seen.push_back(name);
    std::int64_t v = 0;
    const auto all_ints = [&](std::int64_t min, std::int64_t max, std::size_t at_least,
                              std::size_t at_most, std::vector<std::int64_t>* keep) {
      if (args.size() < at_least || args.size() > at_most) return false;
      for (const auto& a : args) {
        if (!ParseInt(a, min, max, &v)) return false;
        if (keep != nullptr) keep->push_back(v);
      }
      return true;
    };
    bool good = true;
    if (name == "TOTP_AUTH") {
      good = args.empty();
      totp = true;
    } else if (name == "OTP_DISABLED") {
      good = args.empty();
      disabled = true;
    } else if (name == "HOTP_COUNTER") {
      good = all_ints(0, INT64_MAX, 1, 1, nullptr);
      hotp = true;
    } else if (name == "STEP_SIZE") {
      good = all_ints(1, 60, 1, 1, nullptr);
      step = v;
    } else if (name == "WINDOW_SIZE") {
      good = all_ints(1, 100, 1, 1, nullptr);
    } else if (name == "RATE_LIMIT") {  // attempts, interval, then the times of recent logins
      good = all_ints(0, INT64_MAX, 2, SIZE_MAX, nullptr);
    } else if (name == "DISALLOW_REUSE") {  // the time steps already used
      good = all_ints(0, INT64_MAX, 0, SIZE_MAX, &r.used_steps);
    } else if (name == "TIME_SKEW") {
      good = all_ints(INT64_MIN / 2, INT64_MAX / 2, 1, 1, nullptr);
    } else if (name == "RESETTING_TIME_SKEW") {  // "STEP+SKEW STEP-SKEW ..."
      for (const auto& a : args) {
        const auto sign = a.find_first_of("+-");
        if (sign == std::string_view::npos || !AllDigits(a.substr(0, sign)) ||
            !AllDigits(a.substr(sign + 1)))
          good = false;
      }
    } else {
      return Refused(path, fmt::format("option {} (line {}) is unknown to apppass and may change "
                                       "how codes are made; not imported",
                                       LogSafe(name, 40), n));
    }
    if (!good) return Malformed(path, n, fmt::format("bad value for option {}", name));
  }
  if (disabled)
    return Refused(path, "one-time passwords are disabled for this user (OTP_DISABLED)");
  if (hotp)
    return Refused(path, fmt::format("a counter-based (HOTP) enrollment (HOTP_COUNTER) cannot be "
                                     "imported: {}. Enroll with 'apppass mfa enroll' instead",
                                     kSupported));
  if (!totp)
    return Refused(path, "no TOTP_AUTH line: not a time-based (TOTP) enrollment; not imported");
  if (step != 30)
    return Refused(
        path, fmt::format("codes change every {} s (STEP_SIZE {}); {}", step, step, kSupported));
  r.source = std::string(kSourceGoogleAuthenticator);
  *out = std::move(r);
  return Status::Ok();
}

Status ParseOathUsersFile(std::string_view contents, std::string_view user, std::string_view path,
                          ExistingTotp* out) {
  Status s = CheckText(contents, path);
  if (!s.ok()) return s;
  if (!(s = ValidateUserName(user)).ok()) return s;
  ExistingTotp r;
  int entries = 0;
  std::vector<int> usable;  // line numbers of HOTP/T30[/6] entries
  int counter_line = 0;     // first counter-based (HOTP, HOTP/E...) entry
  int other_line = 0;       // first time-based entry of another step or length
  std::string other_type;
  Lines lines(contents);
  std::string_view line;
  int n = 0;
  while (lines.Next(&line, &n)) {
    // liboath separates fields by spaces, tabs and '\r'; '#' starts a comment line.
    const std::vector<std::string_view> f = Fields(line, " \t\r");
    if (f.empty() || f[0].front() == '#') continue;
    if (f.size() < 2 || f[1] != user) continue;
    ++entries;
    const std::string_view type = f[0];
    if (type == "HOTP" || type == "HOTP/E" || type == "HOTP/E/6" || type == "HOTP/E/7" ||
        type == "HOTP/E/8") {
      if (counter_line == 0) counter_line = n;
      continue;
    }
    if (type != "HOTP/T30" && type != "HOTP/T30/6") {
      if (other_line == 0) {
        other_line = n;
        other_type = LogSafe(type, 40);
      }
      continue;
    }
    usable.push_back(n);
    if (usable.size() > 1) continue;
    if (f.size() < 4) return Malformed(path, n, "the entry has no secret");
    if (!(s = DecodeHex(f[3], path, n, &r.secret)).ok()) return s;
    if (f.size() >= 5 && !AllDigits(f[4])) return Malformed(path, n, "the counter is not a number");
    if (f.size() >= 6 && AllDigits(f[5])) r.last_code = std::string(f[5]);
  }
  if (entries == 0)
    return Status::NotFound(fmt::format("{} has no entry for {}", LogText(path), LogText(user)));
  if (usable.size() > 1)
    return Refused(path, fmt::format("{} has {} time-based entries (lines {} and {}); apppass can "
                                     "import one: remove the others first",
                                     LogText(user), usable.size(), usable[0], usable[1]));
  if (usable.empty() && other_line != 0)
    return Refused(path,
                   fmt::format("{}'s entry (line {}) is of type {}; {} (HOTP/T30 or HOTP/T30/6)",
                               LogText(user), other_line, other_type, kSupported));
  if (usable.empty())
    return Refused(path, fmt::format("{}'s entry (line {}) is counter-based (HOTP) and cannot be "
                                     "imported: {} (HOTP/T30 or HOTP/T30/6). Enroll with "
                                     "'apppass mfa enroll' instead",
                                     LogText(user), counter_line, kSupported));
  r.source = std::string(kSourceOath);
  *out = std::move(r);
  return Status::Ok();
}

Status ReadGoogleAuthenticatorFile(const std::string& path, std::optional<uid_t> user_uid,
                                   ExistingTotp* out) {
  SecretBuffer contents;
  Status s = ReadOtpFile(path, user_uid, &contents);
  if (!s.ok()) return s;
  return ParseGoogleAuthenticator(contents.view(), path, out);
}

Status ReadOathUsersFile(const std::string& path, const std::string& user,
                         std::optional<uid_t> user_uid, ExistingTotp* out) {
  SecretBuffer contents;
  Status s = ReadOtpFile(path, user_uid, &contents);
  if (!s.ok()) return s;
  return ParseOathUsersFile(contents.view(), user, path, out);
}

Status LookupSystemUser(const std::string& user, uid_t* uid, std::string* home) {
  Status s = ValidateUserName(user);
  if (!s.ok()) return s;
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  if (size <= 0) size = 16384;
  for (int attempt = 0; attempt < 6; ++attempt, size *= 4) {
    std::vector<char> buf(static_cast<std::size_t>(size));
    struct passwd pw {};
    struct passwd* found = nullptr;
    const int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE) continue;
    if (rc != 0 || found == nullptr)
      return Status::NotFound(fmt::format("there is no system account named {}", LogText(user)));
    if (pw.pw_dir == nullptr || pw.pw_dir[0] != '/')
      return Status::NotFound(fmt::format("{} has no home directory", LogText(user)));
    *uid = pw.pw_uid;
    *home = pw.pw_dir;
    return Status::Ok();
  }
  return Status::Internal("the account entry is too large");
}

}  // namespace apppass
