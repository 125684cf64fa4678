// Unit tests of mfa_import.h and MfaImport (admin.h): parsing google-authenticator state
// files and pam_oath usersfiles (good files, comments, counter-based or other-length
// tokens, garbage, empty and huge files), reading them safely (modes, owners, symlinks,
// FIFOs, size), and importing an enrollment into a store at an injected time, with codes
// computed independently by liboath. Also the "source" field of the user record.

#include "mfa_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <string>
#include <vector>

#include "admin.h"
#include "records.h"
#include "totp.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

using namespace std::string_literals;
using test::TotpAt;

// The middle of a TOTP step (step 56666667 runs from 1700000010 to 1700000039).
constexpr std::int64_t kNow = 1700000025;
constexpr std::int64_t kStepNow = kNow / 30;

// The RFC 6238 SHA1 secret, its base32 (as google-authenticator writes it) and hex (as
// a pam_oath usersfile holds it).
const std::string kRaw = "12345678901234567890";
const std::string kB32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const std::string kHex = "3132333435363738393031323334353637383930";

// A file as google-authenticator 20191231 writes it with -t -d -r 3 -R 30 -w 3, after
// two logins (one in RATE_LIMIT's list, two steps in DISALLOW_REUSE).
const std::string kGaFile = kB32 +
                            "\n\" RATE_LIMIT 3 30 1700000001\n\" WINDOW_SIZE 3\n"
                            "\" DISALLOW_REUSE 56666665 56666666\n\" TOTP_AUTH\n"
                            "64830930\n70953632\n35214914\n67370643\n55894041\n";

// A usersfile with comments, blank lines, other users (some with names that share a
// prefix with alice) and alice's time-based token after pam_oath recorded a login.
const std::string kOathFile =
    "# users.oath: one token a line\n"
    "\n"
    "HOTP\tbob\t-\t00112233445566778899\n"
    "HOTP/T30 alice2 - 00112233445566778899aabbccddeeff00112233\n"
    "   # an indented comment\n"
    "HOTP/T30/6\txalice\t+\t00112233445566778899aabbccddeeff00112233\n"
    "HOTP/T30\talice\t-\t" +
    kHex +
    "\t0\t755224\t2023-11-14T22:13:00L\n"
    "HOTP/T60 carol - 00112233445566778899\n";

SecretBuffer Secret(std::string_view raw) {
  SecretBuffer s(raw.size() + 1);
  if (!s.assign(raw)) fail_msg("SecretBuffer::assign failed");
  return s;
}

// An enrollment as a parser would return it.
ExistingTotp Existing(std::string_view raw, std::string_view source = kSourceGoogleAuthenticator) {
  ExistingTotp e;
  e.secret = Secret(raw);
  e.source = std::string(source);
  return e;
}

Status Ga(const std::string& contents, ExistingTotp* out = nullptr) {
  ExistingTotp ignored;
  return ParseGoogleAuthenticator(contents, "/home/alice/.google_authenticator",
                                  out != nullptr ? out : &ignored);
}

Status Oath(const std::string& contents, const std::string& user = "alice",
            ExistingTotp* out = nullptr) {
  ExistingTotp ignored;
  return ParseOathUsersFile(contents, user, "/etc/users.oath", out != nullptr ? out : &ignored);
}

// Fails unless `s` has code `want` and a message containing `needle` and none of the
// secrets, PINs or scratch codes the test files hold.
void ExpectRefusal(const Status& s, Status::Code want, const std::string& needle,
                   const char* what) {
  if (s.code() != want)
    fail_msg("%s: expected %s, got %s: %s", what, test::CodeName(want), test::CodeName(s.code()),
             s.message().c_str());
  if (!needle.empty() && s.message().find(needle) == std::string::npos)
    fail_msg("%s: message \"%s\" does not mention \"%s\"", what, s.message().c_str(),
             needle.c_str());
  for (const std::string& secret :
       {kB32, kHex, kRaw, "GEZDGNBV"s, "31323334"s, "s3cretpin"s, "64830930"s})
    if (s.message().find(secret) != std::string::npos)
      fail_msg("%s: message \"%s\" contains secret material", what, s.message().c_str());
  if (s.message().find('\n') != std::string::npos) fail_msg("%s: message has a newline", what);
}

void ExpectSecret(const ExistingTotp& e, const std::string& raw) {
  if (e.secret.view() != raw) fail_msg("decoded secret differs (%zu bytes)", e.secret.size());
}

// ---------------------------------------------------------------------------------------
// google-authenticator files

void test_ga_genuine(void**) {
  ExistingTotp e;
  ASSERT_OK(Ga(kGaFile, &e));
  ExpectSecret(e, kRaw);
  assert_string_equal(e.source.c_str(), "google-authenticator");
  assert_int_equal(e.used_steps.size(), 2);
  assert_int_equal(e.used_steps[0], 56666665);
  assert_int_equal(e.used_steps[1], 56666666);
  assert_true(e.last_code.empty());

  // The minimal file: secret and TOTP_AUTH; CRLF line ends; no final newline.
  ExistingTotp m;
  ASSERT_OK(Ga(kB32 + "\r\n\" TOTP_AUTH", &m));
  ExpectSecret(m, kRaw);
  assert_true(m.used_steps.empty());
  // Every option the module writes, in another order, with STEP_SIZE 30 spelled out and
  // an empty DISALLOW_REUSE (no login yet).
  ASSERT_OK(Ga(kB32 + "\n\" TOTP_AUTH\n\" STEP_SIZE 30\n\" DISALLOW_REUSE\n\" TIME_SKEW -2\n"
                      "\" RESETTING_TIME_SKEW 56666660+1 56666661-1\n\" WINDOW_SIZE 17\n"
                      "\" RATE_LIMIT 3 30\n\n12345678\n"));
  // google-authenticator's usual 80- and 128-bit secrets.
  ExistingTotp s80;
  ASSERT_OK(Ga("GEZDGNBVGY3TQOJQ\n\" TOTP_AUTH\n", &s80));
  ExpectSecret(s80, "1234567890");
  ExistingTotp s128;
  ASSERT_OK(Ga("GEZDGNBVGY3TQOJQGEZDGNBVGY\n\" TOTP_AUTH\n", &s128));
  ExpectSecret(s128, "1234567890123456");
}

void test_ga_decodes_like_the_module(void**) {
  // pam_google_authenticator skips spaces and dashes, ignores case and reads 0, 1, 8 as
  // O, L, B: the same file must mean the same key here.
  const std::pair<std::string, std::string> same[] = {
      {"gezdgnbvgy3tqojqgezdgnbvgy3tqojq", kRaw},
      {"GEZD GNBV GY3T QOJQ GEZD-GNBV-GY3T-QOJQ", kRaw},
      {"GEZDGNBVGY3TQ0JQ", "1234567890"},  // 0 for O
  };
  for (const auto& [b32, raw] : same) {
    ExistingTotp e;
    ASSERT_OK(Ga(b32 + "\n\" TOTP_AUTH\n", &e));
    ExpectSecret(e, raw);
  }
  ExistingTotp l, one;
  ASSERT_OK(Ga("LLLLLLLLLLLLLLLL\n\" TOTP_AUTH\n", &l));
  ASSERT_OK(Ga("1111111111111111\n\" TOTP_AUTH\n", &one));
  assert_true(l.secret.view() == one.secret.view());
}

void test_ga_not_importable(void**) {
  const auto pd = Status::Code::kPermissionDenied;
  ExpectRefusal(Ga(kB32 + "\n\" WINDOW_SIZE 3\n\" HOTP_COUNTER 1\n44778963\n"), pd, "HOTP",
                "counter-based file");
  ExpectRefusal(Ga(kB32 + "\n\" HOTP_COUNTER 7\n\" TOTP_AUTH\n"), pd, "HOTP",
                "file with both HOTP_COUNTER and TOTP_AUTH");
  ExpectRefusal(Ga(kB32 + "\n\" WINDOW_SIZE 3\n64830930\n"), pd, "TOTP_AUTH", "no TOTP_AUTH");
  ExpectRefusal(Ga(kB32 + "\n\" STEP_SIZE 60\n\" TOTP_AUTH\n"), pd, "60", "60-second steps");
  ExpectRefusal(Ga(kB32 + "\n\" STEP_SIZE 1\n\" TOTP_AUTH\n"), pd, "STEP_SIZE 1", "1-second steps");
  ExpectRefusal(Ga(kB32 + "\n\" TOTP_AUTH\n\" OTP_DISABLED\n"), pd, "OTP_DISABLED", "disabled");
  // An option apppass does not know might change how codes are made (digits, hash).
  ExpectRefusal(Ga(kB32 + "\n\" TOTP_AUTH\n\" DIGITS 8\n"), pd, "DIGITS", "unknown option");
  ExpectRefusal(Ga(kB32 + "\n\" TOTP_AUTH\n\" HMAC_SHA256\n"), pd, "HMAC_SHA256", "unknown option");
}

void test_ga_malformed(void**) {
  const auto bad = Status::Code::kInvalidArgument;
  struct {
    std::string contents;
    const char* needle;
    const char* what;
  } const cases[] = {
      {"", "empty", "empty file"},
      {"\n\n  \n", "empty", "blank lines only"},
      {"\n" + kB32 + "\n\" TOTP_AUTH\n", "line 1", "secret not on the first line"},
      {"\" TOTP_AUTH\n", "base32", "options without a secret"},
      {kB32 + "====\n\" TOTP_AUTH\n", "base32", "base32 padding (the module refuses it too)"},
      {"GEZDGNBV!Y3TQOJQ\n\" TOTP_AUTH\n", "base32", "bad base32 character"},
      {"GEZDGNBVGY3TQ\n\" TOTP_AUTH\n", "bits", "a 64-bit secret"},
      {std::string(120, 'A') + "\n\" TOTP_AUTH\n", "longer", "a 600-bit secret"},
      {kB32 + "\n\" TOTP_AUTH\nhello\n", "line 3", "a stray line"},
      {kB32 + "\n# a comment\n\" TOTP_AUTH\n", "line 2", "comments are not part of the format"},
      {kB32 + "\n\" TOTP_AUTH\n1234567\n", "line 3", "a 7-digit scratch code"},
      {kB32 + "\n\" TOTP_AUTH\n123456789\n", "line 3", "a 9-digit scratch code"},
      {kB32 + "\n\"TOTP_AUTH\n", "line 2", "no space after the quote"},
      {kB32 + "\n\" totp_auth\n", "line 2", "lower-case option"},
      {kB32 + "\n\"  TOTP_AUTH\n", "line 2", "two spaces after the quote"},
      {kB32 + "\n\" TOTP_AUTH yes\n", "TOTP_AUTH", "TOTP_AUTH with a value"},
      {kB32 + "\n\" TOTP_AUTH\n\" TOTP_AUTH\n", "twice", "a repeated option"},
      {kB32 + "\n\" TOTP_AUTH\n\" STEP_SIZE\n", "STEP_SIZE", "STEP_SIZE without a value"},
      {kB32 + "\n\" TOTP_AUTH\n\" STEP_SIZE 3O\n", "STEP_SIZE", "STEP_SIZE not a number"},
      {kB32 + "\n\" TOTP_AUTH\n\" STEP_SIZE 0\n", "STEP_SIZE", "STEP_SIZE 0"},
      {kB32 + "\n\" TOTP_AUTH\n\" STEP_SIZE 61\n", "STEP_SIZE", "STEP_SIZE over 60"},
      {kB32 + "\n\" TOTP_AUTH\n\" WINDOW_SIZE 1000\n", "WINDOW_SIZE", "WINDOW_SIZE over 100"},
      {kB32 + "\n\" TOTP_AUTH\n\" DISALLOW_REUSE 56666666 x\n", "DISALLOW_REUSE", "bad step"},
      {kB32 + "\n\" TOTP_AUTH\n\" DISALLOW_REUSE -5\n", "DISALLOW_REUSE", "negative step"},
      {kB32 + "\n\" TOTP_AUTH\n\" RATE_LIMIT 3\n", "RATE_LIMIT", "RATE_LIMIT too short"},
      {kB32 + "\n\" TOTP_AUTH\n\" RESETTING_TIME_SKEW 5\n", "RESETTING_TIME_SKEW", "bad skew list"},
      {kB32 + "\n\" TOTP_AUTH\n"s + '\0' + "\n", "NUL", "a NUL byte"},
      {kB32 + "\n\" TOTP_AUTH\n" + std::string(64 * 1024, '\n'), "64 KiB", "over 64 KiB"},
  };
  for (const auto& c : cases) ExpectRefusal(Ga(c.contents), bad, c.needle, c.what);
  // Padding with blank lines up to exactly 64 KiB is still a file.
  const std::string head = kB32 + "\n\" TOTP_AUTH\n";
  ASSERT_OK(Ga(head + std::string(64 * 1024 - head.size(), '\n')));
}

// ---------------------------------------------------------------------------------------
// pam_oath usersfiles

void test_oath_genuine(void**) {
  ExistingTotp e;
  ASSERT_OK(Oath(kOathFile, "alice", &e));
  ExpectSecret(e, kRaw);
  assert_string_equal(e.source.c_str(), "oath");
  assert_string_equal(e.last_code.c_str(), "755224");
  assert_true(e.used_steps.empty());
  // The other users' lines are theirs: alice2 and xalice are not alice.
  ExistingTotp a2;
  ASSERT_OK(Oath(kOathFile, "alice2", &a2));
  assert_int_equal(a2.secret.size(), 20);
  assert_true(a2.secret.view() != kRaw);
  assert_true(a2.last_code.empty());

  // A freshly written entry (no counter, code or time yet), HOTP/T30/6, upper-case hex,
  // CRLF, and a counter-based token of the same user that is skipped.
  std::string upper = kHex;
  for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  ExistingTotp f;
  ASSERT_OK(
      Oath("HOTP alice - 00112233445566778899\r\nHOTP/T30/6 alice s3cretpin " + upper + "\r\n",
           "alice", &f));
  ExpectSecret(f, kRaw);
  assert_true(f.last_code.empty());
}

void test_oath_not_importable(void**) {
  const auto pd = Status::Code::kPermissionDenied;
  const std::string sec = " - " + kHex + "\n";
  ExpectRefusal(Oath("HOTP alice" + sec), pd, "counter-based", "HOTP");
  ExpectRefusal(Oath("HOTP/E alice" + sec + "HOTP/E/8 alice" + sec), pd, "counter-based", "HOTP/E");
  ExpectRefusal(Oath("HOTP/T60 alice" + sec), pd, "HOTP/T60", "60-second TOTP");
  ExpectRefusal(Oath("HOTP/T30/8 alice" + sec), pd, "HOTP/T30/8", "8-digit TOTP");
  ExpectRefusal(Oath("HOTP/T60/6 alice" + sec + "HOTP alice" + sec), pd, "HOTP/T60/6",
                "a 60-second and a counter-based token");
  ExpectRefusal(Oath("TOTP alice" + sec), pd, "TOTP", "a type liboath does not know");
  ExpectRefusal(Oath("HOTP/T30 alice" + sec + "HOTP/T30/6 alice s3cretpin " + kHex + "\n"), pd,
                "2 time-based", "two time-based tokens");
}

void test_oath_absent_or_malformed(void**) {
  const auto nf = Status::Code::kNotFound;
  const auto bad = Status::Code::kInvalidArgument;
  ExpectRefusal(Oath(kOathFile, "dave"), nf, "dave", "no entry");
  ExpectRefusal(Oath(kOathFile, "ALICE"), nf, "", "names are case-sensitive");
  ExpectRefusal(Oath(""), nf, "no entry", "empty file");
  ExpectRefusal(Oath("\n\n# nothing\n"), nf, "no entry", "comments only");
  ExpectRefusal(Oath("hello world\nthis is not a usersfile at all\n"), nf, "", "garbage");
  ExpectRefusal(Oath("# HOTP/T30 alice - " + kHex + "\n"), nf, "", "a commented-out entry");
  ExpectRefusal(Oath("HOTP/T30 alice s3cretpin\n"), bad, "line 1", "no secret");
  ExpectRefusal(Oath("HOTP/T30 alice s3cretpin 3132333435363738393g31323334353637383930\n"), bad,
                "hexadecimal", "bad hex");
  ExpectRefusal(Oath("HOTP/T30 alice - " + kHex + "0\n"), bad, "hexadecimal", "odd hex length");
  ExpectRefusal(Oath("HOTP/T30 alice - 00\n"), bad, "bits", "the README's all-zero 8-bit key");
  ExpectRefusal(Oath("HOTP/T30 alice - " + kHex + kHex + "\n"), bad, "32 bytes", "40-byte key");
  ExpectRefusal(Oath("HOTP/T30 alice - " + kHex + " x1 123456\n"), bad, "counter", "bad counter");
  ExpectRefusal(Oath("HOTP/T30 alice - " + kHex + "\n"s + '\0'), bad, "NUL", "NUL byte");
  ExpectRefusal(Oath("HOTP/T30 alice - " + kHex + "\n" + std::string(64 * 1024, '#')), bad,
                "64 KiB", "over 64 KiB");
  ExpectRefusal(Oath(kOathFile, "bad\nname"), bad, "", "a user name with a newline");
}

// ---------------------------------------------------------------------------------------
// Reading files: OpenChecked's rules plus the user's own uid and a size limit.

struct FileFixture {
  test::TempDir tmp;
  std::string Write(const std::string& name, const std::string& contents, mode_t mode) {
    const std::string p = tmp.Join(name);
    { std::ofstream(p, std::ios::binary | std::ios::trunc) << contents; }
    if (::chmod(p.c_str(), mode) != 0) fail_msg("chmod %s failed", p.c_str());
    return p;
  }
};

int FileSetup(void** state) {
  auto* f = new FileFixture;
  if (f->tmp.path().empty()) {
    delete f;
    return -1;
  }
  *state = f;
  return 0;
}

int FileTeardown(void** state) {
  delete static_cast<FileFixture*>(*state);
  return 0;
}

void test_read_modes_and_types(void** state) {
  auto& f = *static_cast<FileFixture*>(*state);
  ExistingTotp e;
  for (mode_t ok : {0400, 0600, 0640, 0440}) {
    const std::string p = f.Write("ga", kGaFile, ok);
    ASSERT_OK(ReadGoogleAuthenticatorFile(p, std::nullopt, &e));
    ExpectSecret(e, kRaw);
  }
  const auto pd = Status::Code::kPermissionDenied;
  ExpectRefusal(ReadGoogleAuthenticatorFile(f.Write("gw", kGaFile, 0620), std::nullopt, &e), pd,
                "chmod", "group-writable");
  ExpectRefusal(ReadGoogleAuthenticatorFile(f.Write("ow", kGaFile, 0602), std::nullopt, &e), pd,
                "chmod", "world-writable");
  ExpectRefusal(ReadGoogleAuthenticatorFile(f.Write("or", kGaFile, 0644), std::nullopt, &e), pd,
                "0644", "world-readable (everyone knows that secret)");
  const std::string target = f.Write("target", kGaFile, 0600);
  const std::string link = f.tmp.Join("link");
  assert_int_equal(::symlink(target.c_str(), link.c_str()), 0);
  ExpectRefusal(ReadGoogleAuthenticatorFile(link, std::nullopt, &e), pd, "symbolic link",
                "symlink");
  ExpectRefusal(ReadOathUsersFile(link, "alice", std::nullopt, &e), pd, "symbolic link", "symlink");
  const std::string fifo = f.tmp.Join("fifo");
  assert_int_equal(::mkfifo(fifo.c_str(), 0600), 0);
  ExpectRefusal(ReadGoogleAuthenticatorFile(fifo, std::nullopt, &e), pd, "regular file", "FIFO");
  ExpectRefusal(ReadGoogleAuthenticatorFile(f.tmp.path(), std::nullopt, &e), pd, "", "directory");
  ExpectRefusal(ReadGoogleAuthenticatorFile(f.tmp.Join("none"), std::nullopt, &e),
                Status::Code::kNotFound, "does not exist", "missing");
  // Size: 64 KiB is allowed, one byte more is not.
  const std::string head = kB32 + "\n\" TOTP_AUTH\n";
  ASSERT_OK(ReadGoogleAuthenticatorFile(
      f.Write("64k", head + std::string(64 * 1024 - head.size(), '\n'), 0600), std::nullopt, &e));
  ExpectRefusal(ReadGoogleAuthenticatorFile(
                    f.Write("big", head + std::string(64 * 1024 + 1 - head.size(), '\n'), 0600),
                    std::nullopt, &e),
                Status::Code::kInvalidArgument, "64 KiB", "over 64 KiB");
  // The usersfile reader applies the same rules and finds the entry.
  ASSERT_OK(ReadOathUsersFile(f.Write("users.oath", kOathFile, 0600), "alice", std::nullopt, &e));
  ExpectSecret(e, kRaw);
  ExpectRefusal(ReadOathUsersFile(f.Write("uw", kOathFile, 0660), "alice", std::nullopt, &e), pd,
                "chmod", "group-writable usersfile");
}

void test_read_owners(void** state) {
  auto& f = *static_cast<FileFixture*>(*state);
  if (::geteuid() != 0) skip();  // chown needs root
  ExistingTotp e;
  const std::string p = f.Write("ga", kGaFile, 0400);
  assert_int_equal(::chown(p.c_str(), 4242, 4242), 0);
  // The user's own file (uid 4242) is theirs to own; nobody else's is.
  ASSERT_OK(ReadGoogleAuthenticatorFile(p, uid_t{4242}, &e));
  ExpectSecret(e, kRaw);
  ExpectRefusal(ReadGoogleAuthenticatorFile(p, std::nullopt, &e), Status::Code::kPermissionDenied,
                "4242", "owned by an unknown uid");
  ExpectRefusal(ReadGoogleAuthenticatorFile(p, uid_t{4243}, &e), Status::Code::kPermissionDenied,
                "owned by uid 4242", "owned by another user");
  const std::string o = f.Write("users.oath", kOathFile, 0600);
  assert_int_equal(::chown(o.c_str(), 4242, 0), 0);
  ExpectRefusal(ReadOathUsersFile(o, "alice", uid_t{77}, &e), Status::Code::kPermissionDenied,
                "uid 4242", "usersfile owned by someone else");
}

// ---------------------------------------------------------------------------------------
// MfaImport

struct StoreFixture {
  test::TempDir tmp;
  std::string dir;
  std::string alice_secret;  // alice: confirmed by 'mfa enroll' + 'mfa confirm'
  Store admin;
};

int StoreSetup(void** state) {
  auto* f = new StoreFixture;
  if (f->tmp.path().empty()) {
    delete f;
    return -1;
  }
  f->dir = f->tmp.Join("store");
  const Status s = test::MakeStoreWithUser(f->dir, "alice", kNow, &f->admin, &f->alice_secret);
  if (!s.ok()) {
    print_error("making the test store failed: %s\n", s.message().c_str());
    delete f;
    return -1;
  }
  *state = f;
  return 0;
}

int StoreTeardown(void** state) {
  delete static_cast<StoreFixture*>(*state);
  return 0;
}

StoreFixture& Sx(void** state) { return *static_cast<StoreFixture*>(*state); }

void test_import_confirms(void** state) {
  StoreFixture& f = Sx(state);
  ExistingTotp e;
  ASSERT_OK(Ga(kGaFile, &e));  // steps 56666665 and 56666666 already used
  ASSERT_OK(MfaImport(f.admin, "bob", e, TotpAt(kRaw, kNow), kNow));
  UserRecord u;
  ASSERT_OK(MfaGet(f.admin, "bob", &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  assert_string_equal(u.source.c_str(), "google-authenticator");
  assert_int_equal(u.enrolled, kNow);
  assert_true(u.confirmed && *u.confirmed == kNow);
  assert_int_equal(u.last_step, kStepNow);
  // Sealed like an enrollment of apppass's own: neither the raw secret nor its encodings
  // are in the store, and the store can check the user's next code with it.
  const std::string data = test::ReadFile(f.dir + "/data.mdb");
  assert_false(data.empty());
  for (const std::string& s : {kRaw, kB32, kHex}) assert_true(data.find(s) == std::string::npos);
  ASSERT_CODE(MfaConfirm(f.admin, "bob", TotpAt(kRaw, kNow), kNow), kPermissionDenied);
  ASSERT_OK(MfaConfirm(f.admin, "bob", TotpAt(kRaw, kNow + 30), kNow + 30));
  // An imported enrollment allows app passwords like any confirmed one.
  CreateRequest req;
  req.user = "bob";
  req.name = "phone";
  req.scopes = {"imap"};
  Created c;
  ASSERT_OK(CreatePassword(f.admin, req, kNow + 31, &c));
  // apppass's own enrollments say so.
  UserRecord a;
  ASSERT_OK(MfaGet(f.admin, "alice", &a));
  assert_string_equal(a.source.c_str(), "apppass");

  // The same from a usersfile.
  ExistingTotp o;
  ASSERT_OK(Oath(kOathFile, "alice2", &o));
  const std::string raw2(o.secret.view());
  ASSERT_OK(MfaImport(f.admin, "alice2", o, TotpAt(raw2, kNow), kNow));
  ASSERT_OK(MfaGet(f.admin, "alice2", &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  assert_string_equal(u.source.c_str(), "oath");
}

void test_import_wrong_code(void** state) {
  StoreFixture& f = Sx(state);
  const ExistingTotp e = Existing(kRaw);
  UserRecord u;
  ASSERT_CODE(MfaImport(f.admin, "bob", e, TotpAt(kRaw, kNow - 60), kNow), kPermissionDenied);
  ASSERT_CODE(MfaImport(f.admin, "bob", e, TotpAt(kRaw, kNow + 60), kNow), kPermissionDenied);
  ASSERT_CODE(MfaImport(f.admin, "bob", e, TotpAt("another secret here!", kNow), kNow),
              kPermissionDenied);
  ASSERT_CODE(MfaImport(f.admin, "bob", e, "12345", kNow), kPermissionDenied);
  ASSERT_CODE(MfaImport(f.admin, "bob", e, "64830930", kNow), kPermissionDenied);  // a scratch code
  ASSERT_CODE(MfaImport(f.admin, "bob", e, "", kNow), kPermissionDenied);
  // Nothing was stored by the refusals.
  ASSERT_CODE(MfaGet(f.admin, "bob", &u), kNotFound);
  // One step of clock drift is allowed, as for 'mfa confirm'.
  ASSERT_OK(MfaImport(f.admin, "bob", e, TotpAt(kRaw, kNow - 30), kNow));
  ASSERT_OK(MfaGet(f.admin, "bob", &u));
  assert_int_equal(u.last_step, kStepNow - 1);
}

void test_import_honours_used_codes(void** state) {
  StoreFixture& f = Sx(state);
  // google-authenticator recorded the current step (someone logged in over SSH with it).
  ExistingTotp e = Existing(kRaw);
  e.used_steps = {kStepNow - 5, kStepNow};
  const Status s = MfaImport(f.admin, "bob", e, TotpAt(kRaw, kNow), kNow);
  ExpectRefusal(s, Status::Code::kPermissionDenied, "already used", "a code the module used");
  ASSERT_CODE(MfaImport(f.admin, "bob", e, TotpAt(kRaw, kNow - 30), kNow), kPermissionDenied);
  ASSERT_OK(MfaImport(f.admin, "bob", e, TotpAt(kRaw, kNow + 30), kNow));  // the next one
  // A used step far ahead (a clock that was wrong) does not block codes of now.
  ExistingTotp far = Existing(kRaw);
  far.used_steps = {kStepNow + 100};
  ASSERT_OK(MfaImport(f.admin, "carol", far, TotpAt(kRaw, kNow), kNow));
  // pam_oath recorded the last code it accepted.
  ExistingTotp o = Existing(kRaw, kSourceOath);
  o.last_code = TotpAt(kRaw, kNow);
  ASSERT_CODE(MfaImport(f.admin, "dave", o, TotpAt(kRaw, kNow), kNow), kPermissionDenied);
  ASSERT_CODE(MfaImport(f.admin, "dave", o, TotpAt(kRaw, kNow - 30), kNow), kPermissionDenied);
  o.last_code = TotpAt(kRaw, kNow - 30);
  ASSERT_OK(MfaImport(f.admin, "dave", o, TotpAt(kRaw, kNow), kNow));
  // The import itself uses up its code.
  ASSERT_CODE(MfaConfirm(f.admin, "dave", TotpAt(kRaw, kNow), kNow + 1), kPermissionDenied);
}

void test_import_refuses_confirmed(void** state) {
  StoreFixture& f = Sx(state);
  UserRecord before, after;
  ASSERT_OK(MfaGet(f.admin, "alice", &before));
  const Status s = MfaImport(f.admin, "alice", Existing(kRaw), TotpAt(kRaw, kNow + 30), kNow + 30);
  ExpectRefusal(s, Status::Code::kPermissionDenied, "mfa reset alice", "already confirmed");
  ASSERT_OK(MfaGet(f.admin, "alice", &after));
  assert_string_equal(after.sealed_secret.c_str(), before.sealed_secret.c_str());
  assert_string_equal(after.source.c_str(), "apppass");
  assert_int_equal(after.last_step, before.last_step);
  // After a reset the import works.
  int revoked = -1;
  ASSERT_OK(MfaReset(f.admin, "alice", kNow + 30, &revoked));
  ASSERT_OK(
      MfaImport(f.admin, "alice", Existing(kRaw, kSourceOath), TotpAt(kRaw, kNow + 30), kNow + 30));
  ASSERT_OK(MfaGet(f.admin, "alice", &after));
  assert_string_equal(after.source.c_str(), "oath");
}

void test_import_replaces_pending(void** state) {
  StoreFixture& f = Sx(state);
  EnrollResult er;
  ASSERT_OK(MfaEnroll(f.admin, "carol", "test", kNow, &er));
  const std::string pending = test::Base32Decode(er.base32.view());
  UserRecord u;
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.mfa == MfaState::kPending);
  assert_string_equal(u.source.c_str(), "apppass");
  ASSERT_OK(MfaImport(f.admin, "carol", Existing(kRaw), TotpAt(kRaw, kNow), kNow));
  ASSERT_OK(MfaGet(f.admin, "carol", &u));
  assert_true(u.mfa == MfaState::kConfirmed);
  assert_string_equal(u.source.c_str(), "google-authenticator");
  // The pending secret is gone: only the imported one counts.
  ASSERT_CODE(MfaConfirm(f.admin, "carol", TotpAt(pending, kNow + 30), kNow + 30),
              kPermissionDenied);
  ASSERT_OK(MfaConfirm(f.admin, "carol", TotpAt(kRaw, kNow + 30), kNow + 30));
}

void test_import_bad_input(void** state) {
  StoreFixture& f = Sx(state);
  const std::string code = TotpAt(kRaw, kNow);
  ASSERT_CODE(MfaImport(f.admin, "", Existing(kRaw), code, kNow), kInvalidArgument);
  ASSERT_CODE(MfaImport(f.admin, "bad\nname", Existing(kRaw), code, kNow), kInvalidArgument);
  ASSERT_CODE(MfaImport(f.admin, "bob", Existing("123456789"), code, kNow), kInvalidArgument);
  ASSERT_CODE(MfaImport(f.admin, "bob", Existing(std::string(65, 'x')), code, kNow),
              kInvalidArgument);
  ASSERT_CODE(MfaImport(f.admin, "bob", Existing(kRaw, "apppass"), code, kNow), kInvalidArgument);
  ASSERT_CODE(MfaImport(f.admin, "bob", Existing(kRaw, ""), code, kNow), kInvalidArgument);
  UserRecord u;
  ASSERT_CODE(MfaGet(f.admin, "bob", &u), kNotFound);
}

// ---------------------------------------------------------------------------------------
// The record's "source" field (format version 1, optional)

void test_source_field(void**) {
  UserRecord u;
  u.user = "alice";
  u.mfa = MfaState::kConfirmed;
  u.sealed_secret = "00ff";
  u.source = "oath";
  UserRecord d;
  ASSERT_OK(DecodeUser(EncodeUser(u), &d));
  assert_string_equal(d.source.c_str(), "oath");
  assert_int_equal(d.version, 1);
  // Records written before the field existed mean apppass's own enrollment.
  const std::string old =
      R"({"v":1,"user":"alice","mfa":"confirmed","secret":"abcd","enrolled":10,"confirmed":20,)"
      R"("last_step":56666666})";
  d.source = "stale";
  ASSERT_OK(DecodeUser(old, &d));
  assert_string_equal(d.source.c_str(), "apppass");
  // A present field must be a plausible name.
  for (const char* bad : {R"(1)", R"(null)", R"("")", R"("Google")", R"("a b")",
                          R"("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")"}) {
    const std::string rec = old.substr(0, old.size() - 1) + R"(,"source":)" + bad + "}";
    if (DecodeUser(rec, &d).code() != Status::Code::kUnavailable)
      fail_msg("user record with source=%s accepted", bad);
  }
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ga_genuine),
      cmocka_unit_test(test_ga_decodes_like_the_module),
      cmocka_unit_test(test_ga_not_importable),
      cmocka_unit_test(test_ga_malformed),
      cmocka_unit_test(test_oath_genuine),
      cmocka_unit_test(test_oath_not_importable),
      cmocka_unit_test(test_oath_absent_or_malformed),
      cmocka_unit_test_setup_teardown(test_read_modes_and_types, FileSetup, FileTeardown),
      cmocka_unit_test_setup_teardown(test_read_owners, FileSetup, FileTeardown),
      cmocka_unit_test_setup_teardown(test_import_confirms, StoreSetup, StoreTeardown),
      cmocka_unit_test_setup_teardown(test_import_wrong_code, StoreSetup, StoreTeardown),
      cmocka_unit_test_setup_teardown(test_import_honours_used_codes, StoreSetup, StoreTeardown),
      cmocka_unit_test_setup_teardown(test_import_refuses_confirmed, StoreSetup, StoreTeardown),
      cmocka_unit_test_setup_teardown(test_import_replaces_pending, StoreSetup, StoreTeardown),
      cmocka_unit_test_setup_teardown(test_import_bad_input, StoreSetup, StoreTeardown),
      cmocka_unit_test(test_source_field),
  };
  return cmocka_run_group_tests_name("import", tests, nullptr, nullptr);
}
