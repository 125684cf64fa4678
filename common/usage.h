// UsageDb: last use (time, service, remote host) of each app password.
//
// Kept in its own LMDB environment, DIR/usage, which the verifiers' group may write,
// so recording a login never needs write access to credentials. Writes are throttled
// (one per credential per interval) so a busy server does not write on every login,
// and are not synced to disk on every commit: a crash may lose the newest last-use
// time, never a credential. Thread-safe as LMDB is; never use across fork().
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

  // Records `use` for credential `id` unless the recorded one is newer than
  // use.time - min_interval and for the same service and host. Service and host are
  // stored as printable ASCII only: any other byte (and '"', '\') as \xHH, each
  // cut after its first kMaxUsageField bytes with "...". So a client-supplied host
  // with terminal escapes never reaches the store raw.
  Status Record(std::string_view id, const Usage& use, std::int64_t min_interval) const;
  // The same for a process that does not keep the database open (the PAM module opens
  // it per login): reads with a read-only environment first and opens one for writing
  // only when the throttle lets the write through. A writable LMDB environment costs
  // far more to open (~3 MiB of write buffers, a map with room to grow), and most logins
  // of a busy client are throttled.
  static Status RecordIn(const std::string& store_dir, std::string_view id, const Usage& use,
                         std::int64_t min_interval);
  // Ok, NotFound (never used), or an error.
  Status Get(std::string_view id, Usage* out) const;
  Status Remove(std::string_view id) const;

 private:
  LmdbEnv env_;
  MDB_dbi dbi_ = 0;
};

}  // namespace apppass
