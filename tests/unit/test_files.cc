// Unit tests of the one file-safety rule (files.h CheckStat) and its fix carried as data
// (status.h), of the store layout table (store_layout.h), of ParseMapSize (store.h) and of
// IsActive (records.h).

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "files.h"
#include "records.h"
#include "status.h"
#include "store.h"
#include "store_layout.h"

// Last: cmocka.h macros break standard headers included after it.
#include "test_util.h"

namespace apppass {
namespace {

struct stat Stat(mode_t type, mode_t mode, uid_t uid = 0) {
  struct stat st {};
  st.st_mode = type | mode;
  st.st_uid = uid;
  return st;
}

void test_status_fix(void**) {
  const Status plain = Status::Unavailable("it broke");
  assert_string_equal(plain.message().c_str(), "it broke");
  assert_true(plain.fix().empty());
  assert_true(plain.summary() == "it broke");
  const Status with = Status::Unavailable("it broke", "mend it");
  assert_string_equal(with.message().c_str(), "it broke; fix with: mend it");
  assert_string_equal(with.fix().c_str(), "mend it");
  assert_true(with.summary() == "it broke");
  assert_string_equal(WithFixText("a", "b").c_str(), "a; fix with: b");
  assert_string_equal(WithFixText("a", "").c_str(), "a");
  const Status copy = with;
  assert_true(copy.summary() == "it broke");
}

void test_check_stat_modes(void**) {
  // Every store entry is root's alone: any bit for its group or everyone is refused, the
  // lock files' included (a group that could write lock.mdb could hold LMDB's writer
  // lock or rewind the transaction id: issue 11).
  for (const StoreEntry& e : kStoreLayout) {
    const std::string p = std::string("/s/") + e.rel;
    const mode_t type = e.directory ? S_IFDIR : S_IFREG;
    ASSERT_OK(CheckStat(p, Stat(type, e.directory ? 0700 : 0600), e.rule));
    ASSERT_OK(CheckStat(p, Stat(type, e.directory ? 0500 : 0400), e.rule));
    for (mode_t bit = 1; bit <= 040; bit <<= 1) {
      const Status s = CheckStat(p, Stat(type, e.mode | bit), e.rule);
      ASSERT_CODE(s, kUnavailable);
      assert_string_equal(s.fix().c_str(), ("chmod go-rwx " + p).c_str());
    }
  }
  Status s = CheckStat("/s/lock.mdb", Stat(S_IFREG, 0660), Layout(StoreFile::kLock).rule);
  assert_string_equal(
      s.message().c_str(),
      "/s/lock.mdb has unsafe permissions 0660; fix with: chmod go-rwx /s/lock.mdb");
  // The default rule (hooks): no writes by group or everyone, reads allowed.
  s = CheckStat("/s/hook", Stat(S_IFREG, 0660), FileRule{});
  assert_string_equal(s.fix().c_str(), "chmod go-w,o-r /s/hook");
  ASSERT_OK(CheckStat("/s/hook", Stat(S_IFREG, 0644), FileRule{}));
  // Not readable by everyone (an OTP file to import).
  s = CheckStat("/s/otp", Stat(S_IFREG, 0644), FileRule{.allow_world_read = false});
  assert_string_equal(s.fix().c_str(), "chmod go-w,o-r /s/otp");
  ASSERT_OK(CheckStat("/s/otp", Stat(S_IFREG, 0640), FileRule{.allow_world_read = false}));
  s = CheckStat("/s", Stat(S_IFDIR, 0770), FileRule{.directory = true});
  assert_string_equal(s.fix().c_str(), "chmod o-w,g-w /s");
}

void test_check_stat_type_and_owner(void**) {
  Status s = CheckStat("/s/x", Stat(S_IFLNK, 0777), FileRule{});
  assert_string_equal(s.message().c_str(), "/s/x is a symbolic link; refusing to use it");
  assert_true(s.fix().empty());
  s = CheckStat("/s/x", Stat(S_IFDIR, 0750), FileRule{});
  assert_string_equal(s.message().c_str(), "/s/x is not a regular file");
  s = CheckStat("/s/x", Stat(S_IFREG, 0750), FileRule{.directory = true});
  assert_string_equal(s.message().c_str(), "/s/x is not a directory");
  const uid_t stranger = ::geteuid() == 4242 ? 4243 : 4242;
  s = CheckStat("/s/x", Stat(S_IFREG, 0600, stranger), FileRule{});
  ASSERT_CODE(s, kUnavailable);
  assert_non_null(strstr(s.message().c_str(), "must be owned by root"));
  ASSERT_OK(CheckStat("/s/x", Stat(S_IFREG, 0600, stranger), FileRule{.other_owner = stranger}));
  ASSERT_OK(CheckStat("/s/x", Stat(S_IFREG, 0600, ::geteuid()), FileRule{}));
}

void test_layout(void**) {
  int i = 0;
  for (const StoreEntry& e : kStoreLayout) {
    assert_int_equal(static_cast<int>(e.id), i++);
    // Every mode init gives passes the rule opening requires.
    ASSERT_OK(CheckStat(std::string("/s/") + e.rel, Stat(e.directory ? S_IFDIR : S_IFREG, e.mode),
                        e.rule));
    assert_int_equal(e.directory, e.rule.directory);
  }
  assert_string_equal(StorePath("/s", StoreFile::kDir).c_str(), "/s");
  assert_string_equal(StorePath("/s", StoreFile::kUsageLock).c_str(), "/s/usage/lock.mdb");
  // Root's alone: no bit for the group or everyone anywhere.
  for (const StoreEntry& e : kStoreLayout) {
    assert_int_equal(e.mode & 077, 0);
    assert_true(e.rule.owner_only);
  }
  assert_int_equal(Layout(StoreFile::kDir).mode, 0700);
  assert_int_equal(Layout(StoreFile::kLock).mode, 0600);
}

void test_parse_map_size(void**) {
  assert_true(ParseMapSize(std::to_string(kMinMapSize)) == kMinMapSize);
  assert_true(ParseMapSize(std::to_string(kMaxMapSize)) == kMaxMapSize);
  assert_false(ParseMapSize(std::to_string(kMinMapSize - 1)).has_value());
  assert_false(ParseMapSize(std::to_string(kMaxMapSize + 1)).has_value());
  assert_false(ParseMapSize("").has_value());
  assert_false(ParseMapSize("-1").has_value());
  assert_false(ParseMapSize("1e9").has_value());
  assert_false(ParseMapSize(" 1048576").has_value());
  // 20 digits: more than 2^64; a value that would wrap to a valid size.
  assert_false(ParseMapSize("99999999999999999999").has_value());
  assert_false(ParseMapSize("18446744073709551617").has_value());  // 2^64 + 1
  assert_false(ParseMapSize("18446744073709682688").has_value());  // 2^64 + 128 KiB
  assert_false(ParseMapSize("000000000000000000001048576").has_value());
  assert_true(ParseMapSize("00001048576") == std::size_t{1048576});
}

void test_is_active(void**) {
  Credential c;
  assert_true(IsActive(c, 100));
  c.expires = 100;
  assert_false(IsActive(c, 100));
  assert_true(IsActive(c, 99));
  c.expires.reset();
  c.revoked = 50;
  assert_false(IsActive(c, 10));
}

}  // namespace
}  // namespace apppass

int main() {
  using namespace apppass;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_fix),
      cmocka_unit_test(test_check_stat_modes),
      cmocka_unit_test(test_check_stat_type_and_owner),
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_parse_map_size),
      cmocka_unit_test(test_is_active),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
