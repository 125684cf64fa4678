// The store's layout: every file and directory of a store, the owner and mode init gives
// it, and the rule (files.h) that opening and checking it require. The one table that
// Store::Init, Store::Open, CheckStore and 'apppass doctor' read. See store.h for what
// each file holds. Thread-safe: constants.
#pragma once

#include <sys/types.h>

#include <string>

#include "files.h"

namespace apppass {

enum class StoreFile { kDir, kKey, kMfaKey, kData, kLock, kUsageDir, kUsageData, kUsageLock };

struct StoreEntry {
  StoreFile id;
  const char* rel;  // path inside the store directory; "" for the directory itself
  bool directory;
  mode_t mode;       // what init gives it; owner and group are root
  FileRule rule;     // what opening it requires (OpenChecked, CheckStat)
  const char* what;  // for people: "the password-hash key"
};

// The store is root's alone (issue 11): nobody else may open, map or lock any of it, so
// a process that is not root can neither read the keys nor take LMDB's locks. Services
// that verify as another user ask the broker, apppassd (docs/design.md).
inline constexpr FileRule kPrivateDir{.directory = true, .owner_only = true};
inline constexpr FileRule kPrivateFile{.owner_only = true};

// In StoreFile order; the directory first, each directory before what it holds.
inline constexpr StoreEntry kStoreLayout[] = {
    {StoreFile::kDir, "", true, 0700, kPrivateDir, "the store directory"},
    {StoreFile::kKey, "key", false, 0600, kPrivateFile, "the password-hash key"},
    {StoreFile::kMfaKey, "mfa.key", false, 0600, kPrivateFile, "the key that seals TOTP secrets"},
    {StoreFile::kData, "data.mdb", false, 0600, kPrivateFile, "the credentials database"},
    {StoreFile::kLock, "lock.mdb", false, 0600, kPrivateFile,
     "the credentials database's reader table"},
    {StoreFile::kUsageDir, "usage", true, 0700, kPrivateDir, "the last-use directory"},
    {StoreFile::kUsageData, "usage/data.mdb", false, 0600, kPrivateFile, "the last-use database"},
    {StoreFile::kUsageLock, "usage/lock.mdb", false, 0600, kPrivateFile,
     "the last-use reader table"},
};

constexpr const StoreEntry& Layout(StoreFile f) { return kStoreLayout[static_cast<int>(f)]; }

// The path of `f` in the store `dir` (`dir` itself for StoreFile::kDir).
inline std::string StorePath(const std::string& dir, StoreFile f) {
  const char* rel = Layout(f).rel;
  return *rel == '\0' ? dir : dir + "/" + rel;
}

}  // namespace apppass
