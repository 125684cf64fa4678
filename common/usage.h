// UsageDb: last use (time, service, remote host) of each app password.
//
// Kept in its own LMDB environment, DIR/usage, so recording a login never needs write
// access to credentials. Writes are throttled by time alone: at most one per credential
// per interval, whatever service or host the logins came from (a login from another
// service or host within the interval is not recorded; before issue 14 it forced a
// write). So a busy server does not write on every login, and a verifier that keeps the
// database open (the SASL plugin; the PAM module through store_cache.h) decides with one
// read transaction on what is already mapped. Writes are not synced to disk on every
// commit: a crash may lose the newest last-use time, never a credential. Thread-safe as
// LMDB is; never use across fork().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lmdb_env.h"
#include "records.h"
#include "status.h"

namespace apppass {

inline constexpr std::int64_t kDefaultUsageInterval = 60;  // seconds
inline constexpr std::size_t kMaxUsageField = 255;         // bytes of service or host kept
// Address space a recording verifier maps beyond what is in use: room for ~100,000 new
// records, small enough for hosts with an address-space limit.
inline constexpr std::size_t kUsageMapSlack = std::size_t{16} << 20;
inline constexpr std::size_t kUsageMapSize = std::size_t{64} << 20;  // at init

class UsageDb {
 public:
  // Opens DIR/usage for reading or, with `write`, for recording.
  static Status Open(const std::string& store_dir, bool write, UsageDb* out);

  // Records `use` for credential `id` unless the recorded use is less than
  // `min_interval` seconds older than use.time (time only: service and host do not
  // matter). The throttle is one read transaction; only a write that it lets through
  // begins a write transaction. Service and host are stored as printable ASCII only: any
  // other byte (and '"', '\') as \xHH, each cut after its first kMaxUsageField bytes
  // with "...". So a client-supplied host with terminal escapes never reaches the store
  // raw. REQUIRES: opened with `write` (else the write fails; a throttled call succeeds).
  Status Record(std::string_view id, const Usage& use, std::int64_t min_interval) const;
  // Ok, NotFound (never used), or an error.
  Status Get(std::string_view id, Usage* out) const;
  Status Remove(std::string_view id) const;

 private:
  LmdbEnv env_;
  MDB_dbi dbi_ = 0;
};

}  // namespace apppass
