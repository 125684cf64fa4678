// CheckStore: verifies every invariant of a store and lists each problem found, for
// `apppass check` (tools/apppass/cmd_check.cc) and the tests that break stores on purpose.
//
// What is checked (docs/design.md, "The store"):
//   files     DIR, data.mdb, lock.mdb, key and mfa.key exist and are safe (files.h); the
//             keys are kKeyBytes long
//   lmdb      every table is walked with a cursor: keys strictly ascending, as many entries
//             as LMDB's own count says, no read error; unknown tables are a warning
//   meta      "schema" is one this build knows (1, untagged records, is a warning);
//             "map_size" (when set) is a valid size; "policy" (when set) decodes (policy.h)
//   creds     key is a 32-byte hash; the record's tag matches (record_tag.h); it decodes, its
//   version is known, its id,
//             label and scopes are well formed; ids[id] points back to it; user_ids has
//             it; a credential that is not revoked has a confirmed enrollment of its user
//             (create requires one; mfa reset revokes before it deletes the enrollment);
//             an active one with no scopes and no all_services (made before create
//             required --scope or --all-services) is a warning
//   ids       every entry points to a credential record with that id (a bijection)
//   user_ids  every entry names a credential of that user, and no other
//   users     each record decodes, names its key, and its TOTP secret opens with mfa.key
//   counts    active app passwords per user above the policy's max_active (a warning: the
//             limit may have been lowered since); two active ones with one label
//   names     a user name (enrolled, or of a credential not revoked) or the label of a
//             credential not revoked with an invisible character (text.h FindInvisible),
//             stored before ValidateNewUserName/ValidateNewLabel refused them (a warning)
//   usage     last-use records decode and belong to a known id (warnings: a stale or
//             broken last use never changes a decision)
//
// LMDB 0.9 trusts its page contents, so reading garbage pages can crash the reader
// (SIGSEGV, SIGBUS). Everything that touches data.mdb therefore runs in a forked child;
// a child killed by a signal becomes the problem "store pages are corrupt (reading them
// crashed with SIGBUS)". The check only reads, in one read transaction (a consistent
// snapshot, so it may run while the admin tool writes). Not thread-safe: it forks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "status.h"

namespace apppass {

enum class CheckLevel { kWarning, kProblem };

// "warning" or "problem".
const char* CheckLevelName(CheckLevel level);

struct CheckFinding {
  CheckLevel level = CheckLevel::kProblem;
  std::string table;    // "files", "lmdb", "meta", "creds", "ids", "user_ids", "users", "usage"
  std::string key;      // what it is about (file, table key, user/id), printable; may be empty
  std::string message;  // one line, printable ASCII
  std::string fix;      // one line: what to do
};

struct CheckReport {
  std::vector<CheckFinding> findings;
  std::size_t users = 0;        // enrollment records
  std::size_t credentials = 0;  // credential records that decode: active + revoked + expired
  std::size_t active = 0, revoked = 0, expired = 0;
  std::size_t usage_records = 0;

  std::size_t Count(CheckLevel level) const;
  bool clean() const { return Count(CheckLevel::kProblem) == 0; }
};

struct CheckOptions {
  std::int64_t now = 0;  // unix seconds: decides which credentials have expired
  // A child that has not finished reading after this long is killed and reported.
  int timeout_seconds = 600;
};

// Checks the store in `dir`. Ok with `*out` filled (findings may be empty or not);
// Unavailable, with a message naming the file and the fix, when the store cannot be
// opened at all: no such directory, no data.mdb or lock.mdb, one of them unsafe to open,
// or an environment LMDB refuses (not an LMDB file, damaged header).
Status CheckStore(const std::string& dir, const CheckOptions& opts, CheckReport* out);

// One line per finding ("problem: TABLE KEY: MESSAGE; fix: FIX") and a summary line.
std::string FormatCheckText(const std::string& dir, const CheckReport& report);
// {"store","users","credentials":{"total","active","revoked","expired"},"usage_records",
//  "problems","warnings","findings":[{"status","table","key","message","fix"}]}, one line.
std::string FormatCheckJson(const std::string& dir, const CheckReport& report);

}  // namespace apppass
