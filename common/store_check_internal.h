// StoreChecker: the checks behind CheckStore (store_check.h), one concern per file:
//   store_check.cc          the files and keys, the child process that reads the store,
//                           and the report's formats
//   store_check_lmdb.cc     the LMDB level: every table walked with a cursor (order, count,
//                           entries inside the map), and the usage database
//   store_check_records.cc  the record invariants within and across the tables
// Private to those files. Not thread-safe: one checker per check.
#pragma once

#include <lmdb.h>

#include <map>
#include <string>
#include <utility>

#include "lmdb_env.h"
#include "records.h"
#include "secret.h"
#include "status.h"
#include "store_check.h"

namespace apppass::internal {

// The fix of a damaged data.mdb.
inline constexpr const char* kRestore = "restore data.mdb from a backup (mdb_copy of a good store)";

class StoreChecker {
 public:
  StoreChecker(std::string dir, const CheckOptions& opts, CheckReport* report)
      : dir_(std::move(dir)), opts_(opts), r_(*report) {}

  void Add(CheckLevel level, std::string table, std::string key, std::string message,
           std::string fix) {
    r_.findings.push_back(
        CheckFinding{level, std::move(table), std::move(key), std::move(message), std::move(fix)});
  }
  void Problem(std::string table, std::string key, std::string message,
               std::string fix = kRestore) {
    Add(CheckLevel::kProblem, std::move(table), std::move(key), std::move(message), std::move(fix));
  }
  void Warning(std::string table, std::string key, std::string message, std::string fix) {
    Add(CheckLevel::kWarning, std::move(table), std::move(key), std::move(message), std::move(fix));
  }

  // The owners and modes against the layout (store_modes.h): a problem for each entry
  // its group or everyone may access, with the fix. False when there is one: the store
  // is then read no further (opening it would refuse it).
  bool CheckModes();
  // The files, checked from the parent: nothing here reads LMDB pages. Unavailable when
  // the store cannot be opened at all. Loads mfa.key into `*mfa_key` and derives the
  // record tag key into `*tag_key` when the keys are usable.
  Status CheckFiles(SecretBuffer* mfa_key, SecretBuffer* tag_key);
  // Everything that reads data.mdb and usage/data.mdb. Runs in the forked child.
  Status CheckContents(const SecretBuffer& mfa_key, const SecretBuffer& tag_key);

 private:
  using Table = std::map<std::string, std::string>;

  void CheckKey(const char* name, bool owner_only, SecretBuffer* out);

  // store_check_lmdb.cc
  void Walk(const LmdbTxn& txn, MDB_dbi dbi, const std::string& name, Table* out);
  void WalkTables(const LmdbTxn& txn);
  void CheckUsage();

  // store_check_records.cc
  void CheckMeta();
  static std::string Who(const Credential& c);
  void CheckCreds();
  void CheckIds();
  void CheckUserIds();
  void CheckUsers(const SecretBuffer& mfa_key);
  void CheckCounts();
  void CheckInvisible();

  std::string dir_;
  CheckOptions opts_;
  CheckReport& r_;
  Table meta_, creds_, ids_, user_ids_, users_;
  std::map<std::string, Credential> decoded_;  // hash -> credential, for records that decode
  const SecretBuffer* tag_key_ = nullptr;      // record_tag.h; set by CheckContents
};

}  // namespace apppass::internal
