// Store: one apppass store directory, opened for verifying or for administration.
//
//   DIR/           the store directory                        root:root 0700
//   DIR/key        32-byte BLAKE2b key for password hashes   root:root 0600
//   DIR/mfa.key    32-byte secretbox key for TOTP secrets     root:root 0600 (admin only)
//   DIR/data.mdb   LMDB credentials and enrollments          root:root 0600
//   DIR/lock.mdb   LMDB reader table                          root:root 0600
//   DIR/usage/     LMDB last-use records (see usage.h)        root:root 0700, files 0600
//
// Root-only (store_layout.h): no other process may open, map or lock any of it. Services
// that verify as another user ask the broker, apppassd, which opens the store as root.
//
// Tables in data.mdb:
//   meta      "schema" -> decimal store schema version; "map_size" -> decimal bytes (optional)
//   creds     keyed hash of the password (32 bytes) -> Credential (records.h), sealed
//             with a tag (record_tag.h) in schema 2
//   ids       credential id -> keyed hash
//   user_ids  user NUL id -> "" (a user's credentials, in id order)
//   users     user -> UserRecord (MFA enrollment)
//
// A Store opened for verifying is read-only: it cannot create or change credentials
// (the environment is MDB_RDONLY).
// Every file is checked before use (files.h). Verifiers map only the pages in use, so
// hosts with an address-space limit (Dovecot's auth worker) can open a store far larger
// than the limit's headroom.
//
// Thread-safety: Verify (verifier.h) on a Store opened in kVerify mode may be called from
// many threads at once: each call runs its own read transaction, and a remap after
// another process grew the store waits until no transaction of this process is active
// (env_registry.h). Admin operations (admin.h, SetMapSize) one thread at a time; LMDB
// serializes writers across processes. Open and destroy a Store while no other thread
// uses it. Never use a Store across fork().
#pragma once

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lmdb_env.h"
#include "secret.h"
#include "status.h"

namespace apppass {

// Schema 2: every credential record carries a tag (record_tag.h). Schema 1 (apppass
// before 0.1.0's record tags) is still read, untagged; opening it for administration
// seals every record and records schema 2.
inline constexpr int kSchemaVersion = 2;
inline constexpr const char* kDefaultStoreDir = "/var/lib/apppass";
inline constexpr std::size_t kHashBytes = 32;
inline constexpr std::size_t kKeyBytes = 32;
// Address space reserved for data.mdb: the most it may grow to. The file is sparse and
// grows only as records are written; a store of 1 GiB holds over a million app passwords.
// A store may set its own in meta "map_size" (apppass init --map-size), from kMinMapSize
// to kMaxMapSize bytes; see docs/design.md, "How the map grows".
inline constexpr std::size_t kDefaultMapSize = std::size_t{1} << 30;
inline constexpr std::size_t kMinMapSize = std::size_t{128} << 10;
inline constexpr std::size_t kMaxMapSize = std::size_t{1} << 40;

// A map size as meta "map_size" records it: decimal bytes, no sign, from kMinMapSize to
// kMaxMapSize; nullopt for anything else (never overflows, whatever its length).
std::optional<std::size_t> ParseMapSize(std::string_view v);

struct StoreDbs {
  MDB_dbi meta = 0, creds = 0, ids = 0, user_ids = 0, users = 0;
};

// The tables of data.mdb (above).
enum class Table { kMeta, kCreds, kIds, kUserIds, kUsers };

class Store;
namespace internal {
struct StoreAccess;  // store_internal.h: for tests that damage stores on purpose
}  // namespace internal

// A transaction on a store's tables, handed out by Store::Begin: what the verifier, the
// admin operations and the check read and write through. Move-only; aborts in its
// destructor unless committed. Belongs to the thread that began it. Cursors (Cursor())
// must be destroyed before it ends.
class StoreTxn {
 public:
  StoreTxn() = default;

  // Ok and `*value` set (valid until the transaction ends or writes), NotFound, or an
  // error.
  Status Get(Table t, std::string_view key, std::string_view* value) const {
    return txn_.Get(Dbi(t), key, value);
  }
  Status Put(Table t, std::string_view key, std::string_view value) const {
    return txn_.Put(Dbi(t), key, value);
  }
  // Ok when deleted or absent.
  Status Del(Table t, std::string_view key) const { return txn_.Del(Dbi(t), key); }
  // A cursor on `t` (lmdb_env.h), iterating keys with `prefix` when given.
  LmdbCursor Cursor(Table t, std::string prefix = {}) const {
    return LmdbCursor(txn_, Dbi(t), std::move(prefix));
  }
  Status Commit() { return txn_.Commit(); }
  void Abort() { txn_.Abort(); }

 private:
  friend class Store;
  MDB_dbi Dbi(Table t) const {
    switch (t) {
      case Table::kMeta: return dbs_.meta;
      case Table::kCreds: return dbs_.creds;
      case Table::kIds: return dbs_.ids;
      case Table::kUserIds: return dbs_.user_ids;
      case Table::kUsers: return dbs_.users;
    }
    return dbs_.meta;
  }
  LmdbTxn txn_;
  StoreDbs dbs_;
};

class Store {
 public:
  enum class Mode { kVerify, kAdmin };

  Store() = default;
  Store(Store&&) = default;
  Store& operator=(Store&&) = default;

  // Opens the store in `dir`. Root only: any other process gets Unavailable with a
  // message saying the store is root-only and naming the broker (apppassd), without
  // touching a file. kVerify reads DIR/key and data.mdb and takes a reader slot in
  // lock.mdb; kAdmin also reads mfa.key and opens data.mdb for writing, and first
  // tightens an older, group-accessible store to the layout (store_modes.h), appending
  // one line per entry it changed to `*tightened` (when given) even when the open then
  // fails. Unavailable (with a message naming the file and the fix) when anything is
  // missing, unsafe (symlink, not a regular file, foreign owner, any access by group or
  // others), corrupt or of a newer schema.
  static Status Open(const std::string& dir, Mode mode, Store* out,
                     std::vector<std::string>* tightened = nullptr);

  // Creates a new store in `dir` (the directory may exist and be empty; it becomes
  // root:root 0700 when run as root). Files get the modes above, owned by the caller.
  // AlreadyExists when DIR/key or data.mdb already exist: init never replaces a key.
  // `map_size` (0: the default, not recorded) is recorded in meta "map_size".
  static Status Init(const std::string& dir, std::size_t map_size = 0);

  // REQUIRES: opened in kAdmin mode. Records `size` as the store's map size (meta
  // "map_size") and maps that much. InvalidArgument when out of range or smaller than
  // data.mdb already is. Works on a full store: the map grows before the write.
  Status SetMapSize(std::size_t size);
  // The map size in effect (kAdmin: the recorded one, else kDefaultMapSize).
  std::size_t map_size() const { return map_size_; }

  // Keyed BLAKE2b-256 of a normalized password (password.h) into `out`.
  void HashPassword(const SecretBuffer& normalized, unsigned char out[kHashBytes]) const;

  // Keyed BLAKE2b-256 of one of `user`'s recovery codes (recovery_codes.h), normalized:
  // the same key as HashPassword, over a domain-separated input, so a recovery code's
  // hash is never an app password's nor another user's.
  void HashRecoveryCode(std::string_view user, const SecretBuffer& normalized,
                        unsigned char out[kHashBytes]) const;

  // A credential record as it is stored under `hash` (sealed, record_tag.h).
  std::string SealCredential(std::string_view hash, std::string_view json) const;
  // Whether `value` under `hash` is intact: sealed with this store's key, or any value in
  // a schema 1 store (whose records have no tags). Same work either way.
  bool CredentialIntact(std::string_view hash, std::string_view value) const;
  int schema() const { return schema_; }

  // Whether this Store is open and usable in this process (false when empty, or opened
  // by a parent process before fork()).
  bool is_open() const { return env_.get() != nullptr; }
  // Begins a transaction on the store's tables (`write`: REQUIRES kAdmin mode).
  Status Begin(bool write, StoreTxn* out) const;
  const std::string& dir() const { return dir_; }
  // REQUIRES: opened in kAdmin mode.
  const SecretBuffer& mfa_key() const { return mfa_key_; }

 private:
  friend struct internal::StoreAccess;
  Status UpgradeToSchema2();
  // Views into keys_, which holds both keys once the store is opened; empty before.
  SecretBytes hash_key() const {
    return SecretBytes(keys_).first(std::min(keys_.size(), kKeyBytes));
  }
  SecretBytes tag_key() const {
    return SecretBytes(keys_).subspan(std::min(keys_.size(), kKeyBytes));
  }

  std::string dir_;
  LmdbEnv env_;
  StoreDbs dbs_;
  // The hash key (DIR/key) and the record tag key derived from it, in one guarded
  // allocation: sodium_malloc costs a handful of system calls, paid at every open (the PAM
  // module opens a store again whenever its files changed: store_cache.h).
  SecretBuffer keys_;
  SecretBuffer mfa_key_;
  int schema_ = kSchemaVersion;
  std::size_t map_size_ = kDefaultMapSize;
};

// Reads a key file of exactly kKeyBytes, checking it is safe (files.h: root's alone, as
// every store file). Used for DIR/key and, owner_only, DIR/mfa.key (the same rule now).
Status LoadKey(const std::string& path, SecretBuffer* out, bool owner_only = false);
// The same into `out`, part of a buffer the caller allocated.
Status ReadKey(const std::string& path, std::span<unsigned char, kKeyBytes> out,
               bool owner_only = false);

}  // namespace apppass
