#include "store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "files.h"
#include "record_tag.h"
#include "store_layout.h"
#include "store_modes.h"
#include "text.h"
#include "usage.h"

namespace apppass {

namespace {

// What a write that finds the store full tells the admin (lmdb_env.cc appends it).
constexpr const char* kFullHint =
    "Raise the store's map size with 'apppass init --map-size SIZE' (see apppass(8)).";

Status CheckMapSize(std::size_t size) {
  if (size < kMinMapSize || size > kMaxMapSize)
    return Status::InvalidArgument(fmt::format("the map size must be from {} KiB to {} GiB",
                                               kMinMapSize >> 10, kMaxMapSize >> 30));
  return Status::Ok();
}

// Writes a fresh random key to `path`, which must not exist.
Status CreateKey(const std::string& path, mode_t mode) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid())
    return Status::Unavailable(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  SecretBuffer key(kKeyBytes);
  if (!key.valid()) return Status::Internal("out of secure memory");
  randombytes_buf(key.data(), kKeyBytes);
  key.resize(kKeyBytes);
  if (::write(fd.get(), key.data(), kKeyBytes) != static_cast<ssize_t>(kKeyBytes) ||
      ::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0)
    return Status::Unavailable(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return Status::Ok();
}

// LMDB makes lock.mdb with ftruncate, so on most filesystems its reader slots past the
// first page have no disk blocks until a reader first writes one, through LMDB's shared
// mapping; on a full filesystem that write kills the reader (a Dovecot auth worker,
// Postfix's smtpd) with SIGBUS (docs/reliability.md, "apppass check and a full store").
// So init gives the reader tables all their blocks up front (LMDB never shrinks the
// file). REQUIRES: no environment on it open in this process, since closing a
// descriptor of lock.mdb would drop LMDB's locks.
Status AllocateReaderTable(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::Unavailable(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  const int rc = ::posix_fallocate(fd.get(), 0, st.st_size);
  // Without fallocate support (EOPNOTSUPP: glibc then writes zeros, harmless here, or
  // EINVAL) the file stays as LMDB made it.
  if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL)
    return Status::Unavailable(fmt::format("cannot allocate {}: {}", path, std::strerror(rc)));
  return Status::Ok();
}

// Gives `path` (just made by this process, in a directory only it can write) `mode`;
// its owner and group are this process's (root's, for a real store).
Status SetMode(const std::string& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0)
    return Status::Unavailable(
        fmt::format("cannot set the mode of {}: {}", path, std::strerror(errno)));
  return Status::Ok();
}

// What a process that is not root gets from Store::Open.
Status RootOnly(const std::string& dir, Store::Mode mode) {
  return Status::Unavailable(
      mode == Store::Mode::kVerify
          ? fmt::format("the apppass store {} is root-only and this process runs as uid {}: a "
                        "service that verifies as another user asks the broker, apppassd "
                        "(PAM option broker=PATH, SASL option apppass_broker:)",
                        dir, ::geteuid())
          : fmt::format("the apppass store {} is root-only and this process runs as uid {}: "
                        "administration needs root; a user manages their own app passwords "
                        "with 'apppass' through the broker, apppassd",
                        dir, ::geteuid()));
}

Status CheckStoreFiles(const std::string& dir, bool admin) {
  Fd fd;
  struct stat st {};
  Status s = OpenChecked(dir, Layout(StoreFile::kDir).rule, &fd, &st);
  if (s.IsNotFound())
    return Status::Unavailable(
        fmt::format("store {} does not exist (create it with 'apppass init')", dir));
  if (!s.ok()) return s;
  s = OpenChecked(StorePath(dir, StoreFile::kData), Layout(StoreFile::kData).rule, &fd, &st);
  if (s.IsNotFound())
    return Status::Unavailable(
        fmt::format("{} has no data.mdb; is it an apppass store (run 'apppass init')?", dir));
  if (!s.ok()) return s;
  if (st.st_size == 0)
    return Status::Unavailable(fmt::format("{}/data.mdb is empty: the store is corrupt", dir));
  // LmdbEnv::Open checks lock.mdb, without opening it when this process has the store
  // open already: closing a descriptor of it would drop the process's LMDB locks.
  if (!admin && ::lstat(StorePath(dir, StoreFile::kLock).c_str(), &st) != 0 && errno == ENOENT)
    return Status::Unavailable(
        fmt::format("{}/lock.mdb does not exist; verifiers need it", dir),
        fmt::format("run any admin command as root (e.g. 'apppass --db {} list'): it recreates it",
                    dir));
  return Status::Ok();
}

}  // namespace

std::optional<std::size_t> ParseMapSize(std::string_view v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  std::size_t n = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9' || n > kMaxMapSize) return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(ch - '0');
  }
  if (n < kMinMapSize || n > kMaxMapSize) return std::nullopt;
  return n;
}

Status ReadKey(const std::string& path, std::span<unsigned char, kKeyBytes> out, bool owner_only) {
  Fd fd;
  struct stat st {};
  Status s =
      OpenChecked(path, Layout(owner_only ? StoreFile::kMfaKey : StoreFile::kKey).rule, &fd, &st);
  if (s.IsNotFound()) return Status::Unavailable(fmt::format("key file {} is missing", path));
  if (!s.ok()) return s;
  if (st.st_size != static_cast<off_t>(kKeyBytes))
    return Status::Unavailable(fmt::format("key file {} has the wrong size", path));
  return ReadExact(fd.get(), out.data(), kKeyBytes, path);
}

Status LoadKey(const std::string& path, SecretBuffer* out, bool owner_only) {
  SecretBuffer key(kKeyBytes);
  if (!key.valid()) return Status::Internal("out of secure memory");
  Status s = ReadKey(path, std::span<unsigned char, kKeyBytes>(key.data(), kKeyBytes), owner_only);
  if (!s.ok()) return s;
  key.resize(kKeyBytes);
  *out = std::move(key);
  return Status::Ok();
}

Status Store::Open(const std::string& dir, Mode mode, Store* out,
                   std::vector<std::string>* tightened) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialize");
  if (::geteuid() != 0) return RootOnly(dir, mode);
  const bool admin = mode == Mode::kAdmin;
  Status s;
  if (admin) {
    // A store made by an apppass before issue 11 is group-accessible: the first admin
    // command makes it root's alone (store_modes.h).
    std::vector<std::string> changes;
    s = TightenStore(dir, &changes);
    if (tightened != nullptr) *tightened = std::move(changes);
    if (!s.ok()) return s;
  }
  s = CheckStoreFiles(dir, admin);
  if (!s.ok()) return s;
  struct stat lock_st {};
  const bool lock_missing = ::lstat(StorePath(dir, StoreFile::kLock).c_str(), &lock_st) != 0;
  Store store;
  store.dir_ = dir;
  store.keys_ = SecretBuffer(kKeyBytes + kTagKeyBytes);
  if (!store.keys_.valid()) return Status::Internal("out of secure memory");
  unsigned char* const keys = store.keys_.data();
  if (!(s = ReadKey(StorePath(dir, StoreFile::kKey),
                    std::span<unsigned char, kKeyBytes>(keys, kKeyBytes)))
           .ok())
    return s;
  DeriveTagKey(SecretBytes(keys, kKeyBytes),
               std::span<unsigned char, kTagKeyBytes>(keys + kKeyBytes, kTagKeyBytes));
  store.keys_.resize(kKeyBytes + kTagKeyBytes);
  // mfa.key seals the TOTP secrets: only the admin side reads it.
  if (admin && !(s = LoadKey(StorePath(dir, StoreFile::kMfaKey), &store.mfa_key_, true)).ok())
    return s;
  s = LmdbEnv::Open(dir, admin ? 0 : MDB_RDONLY, admin ? kDefaultMapSize : kMapInUse, &store.env_);
  if (!s.ok()) return s;

  // The data file LMDB opened must be the one checked above (no swap in between).
  mdb_filehandle_t lfd;
  struct stat opened {
  }, checked{};
  if (mdb_env_get_fd(store.env_.get(), &lfd) != MDB_SUCCESS || ::fstat(lfd, &opened) != 0 ||
      ::lstat(StorePath(dir, StoreFile::kData).c_str(), &checked) != 0 ||
      opened.st_ino != checked.st_ino || opened.st_dev != checked.st_dev ||
      !S_ISREG(checked.st_mode))
    return Status::Unavailable(fmt::format("{}/data.mdb changed while it was being opened", dir));
  // Checked on LMDB's own descriptor too: no writer but the owner (files.h).
  if (!(s = CheckStat(StorePath(dir, StoreFile::kData), opened, Layout(StoreFile::kData).rule))
           .ok())
    return s;
  // LMDB just recreated the reader table (admin only): the layout's mode, whatever the
  // umask.
  if (admin && lock_missing &&
      !(s = SetMode(StorePath(dir, StoreFile::kLock), Layout(StoreFile::kLock).mode)).ok())
    return s;
  if (admin) {
    // A writer killed between writing its commit and publishing it leaves that commit
    // invisible to readers until the next writer takes the lock (LMDB recovers it then):
    // take it now, so every admin command reads what is on disk. Also free the reader
    // slots of processes killed in a read transaction: they block new readers once the
    // table is full and keep old pages from being reused, so data.mdb keeps growing.
    LmdbTxn recover;
    if (!(s = LmdbTxn::Begin(store.env_, true, &recover)).ok()) return s;
    recover.Abort();
    int dead_readers = 0;
    mdb_reader_check(store.env_.get(), &dead_readers);
  }

  LmdbTxn txn;
  if (!(s = LmdbTxn::Begin(store.env_, false, &txn)).ok()) return s;
  StoreDbs& d = store.dbs_;
  if (!(s = txn.OpenDb("meta", false, &d.meta)).ok()) return s;
  std::string_view schema;
  s = txn.Get(d.meta, "schema", &schema);
  if (!s.ok())
    return Status::Unavailable(fmt::format("{} has no schema version; not an apppass store?", dir));
  if (schema == "1") {
    store.schema_ = 1;
  } else if (schema != std::to_string(kSchemaVersion)) {
    return Status::Unavailable(
        fmt::format("store {} has schema version '{}', this apppass understands 1 to {}", dir,
                    LogSafe(schema, 16), kSchemaVersion));
  }
  if (!(s = txn.OpenDb("creds", false, &d.creds)).ok()) return s;
  if (!(s = txn.OpenDb("ids", false, &d.ids)).ok()) return s;
  if (!(s = txn.OpenDb("user_ids", false, &d.user_ids)).ok()) return s;
  if (!(s = txn.OpenDb("users", false, &d.users)).ok()) return s;
  std::string_view recorded;
  if (admin && txn.Get(d.meta, "map_size", &recorded).ok()) {
    // An unreadable value leaves the default ('apppass check' reports it).
    if (const auto size = ParseMapSize(recorded)) store.map_size_ = *size;
  }
  // Committing a read transaction keeps the table handles for the environment's life.
  if (!(s = txn.Commit()).ok()) return s;
  if (admin) {
    mdb_env_set_userctx(store.env_.get(), const_cast<char*>(kFullHint));
    if (store.map_size_ != kDefaultMapSize && !(s = store.env_.SetMapSize(store.map_size_)).ok())
      return s;
    if (store.schema_ == 1 && !(s = store.UpgradeToSchema2()).ok()) return s;
  }
  *out = std::move(store);
  return Status::Ok();
}

// Seals every credential record of a schema 1 store and records schema 2, in one write
// transaction: a store is never half upgraded. Records already sealed (an upgrade that a
// crash interrupted cannot exist, but a hand-made store might) are left as they are;
// values that are not JSON objects stay unsealed, so verifying them keeps failing and
// 'apppass check' names them.
Status Store::UpgradeToSchema2() {
  LmdbTxn txn;
  Status s = LmdbTxn::Begin(env_, true, &txn);
  if (!s.ok()) return s;
  int rc = MDB_SUCCESS;
  {
    LmdbCursor cur(txn, dbs_.creds);
    if (!cur.status().ok()) return cur.status();
    MDB_val k{}, v{};
    for (rc = cur.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = cur.Get(&k, &v, MDB_NEXT)) {
      const std::string_view key = FromVal(k), value = FromVal(v);
      if (RecordSealed(tag_key(), key, value) || value.size() < 2 || value.front() != '{' ||
          value.back() != '}')
        continue;
      // Copies: k and v point into the page that the put rewrites.
      const std::string key_copy(key);
      const std::string sealed = SealRecord(tag_key(), key_copy, value);
      if ((rc = cur.PutCurrent(key_copy, sealed)) != MDB_SUCCESS) break;
    }
  }
  if (rc != MDB_NOTFOUND) return LmdbStatus(rc, "upgrading the store to schema 2");
  if (!(s = txn.Put(dbs_.meta, "schema", std::to_string(kSchemaVersion))).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  schema_ = kSchemaVersion;
  return Status::Ok();
}

namespace {

// Creates a complete store (keys, both LMDB environments) in the empty directory `dir`.
Status BuildStore(const std::string& dir, std::size_t map_size) {
  Status s;
  for (const StoreFile f : {StoreFile::kKey, StoreFile::kMfaKey}) {
    if (!(s = CreateKey(StorePath(dir, f), Layout(f).mode)).ok()) return s;
  }
  {
    LmdbEnv env;
    if (!(s = LmdbEnv::Open(dir, 0, map_size != 0 ? map_size : kDefaultMapSize, &env)).ok())
      return s;
    LmdbTxn txn;
    if (!(s = LmdbTxn::Begin(env, true, &txn)).ok()) return s;
    StoreDbs d;
    for (auto [name, dbi] : {std::pair{"meta", &d.meta},
                             {"creds", &d.creds},
                             {"ids", &d.ids},
                             {"user_ids", &d.user_ids},
                             {"users", &d.users}}) {
      if (!(s = txn.OpenDb(name, true, dbi)).ok()) return s;
    }
    if (!(s = txn.Put(d.meta, "schema", std::to_string(kSchemaVersion))).ok()) return s;
    if (map_size != 0 && !(s = txn.Put(d.meta, "map_size", std::to_string(map_size))).ok())
      return s;
    if (!(s = txn.Commit()).ok()) return s;
  }
  for (const StoreFile f : {StoreFile::kData, StoreFile::kLock}) {
    if (!(s = SetMode(StorePath(dir, f), Layout(f).mode)).ok()) return s;
  }
  if (!(s = AllocateReaderTable(StorePath(dir, StoreFile::kLock))).ok()) return s;

  const std::string usage = StorePath(dir, StoreFile::kUsageDir);
  if (::mkdir(usage.c_str(), Layout(StoreFile::kUsageDir).mode) != 0)
    return Status::Unavailable(fmt::format("cannot create {}: {}", usage, std::strerror(errno)));
  if (!(s = SetMode(usage, Layout(StoreFile::kUsageDir).mode)).ok()) return s;
  {
    LmdbEnv env;
    if (!(s = LmdbEnv::Open(usage, 0, kUsageMapSize, &env)).ok()) return s;
    LmdbTxn txn;
    MDB_dbi dbi;
    if (!(s = LmdbTxn::Begin(env, true, &txn)).ok()) return s;
    if (!(s = txn.OpenDb("usage", true, &dbi)).ok()) return s;
    if (!(s = txn.Commit()).ok()) return s;
  }
  for (const StoreFile f : {StoreFile::kUsageData, StoreFile::kUsageLock}) {
    if (!(s = SetMode(StorePath(dir, f), Layout(f).mode)).ok()) return s;
  }
  return AllocateReaderTable(StorePath(dir, StoreFile::kUsageLock));
}

}  // namespace

Status Store::Init(const std::string& dir, std::size_t map_size) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialize");
  if (map_size != 0) {
    Status ms = CheckMapSize(map_size);
    if (!ms.ok()) return ms;
  }
  if (::mkdir(dir.c_str(), Layout(StoreFile::kDir).mode) != 0 && errno != EEXIST)
    return Status::Unavailable(fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  Fd dfd;
  struct stat st {};
  // Any safe directory (files.h): init makes it root's alone below, once it knows the
  // directory holds no store (an existing one is tightened by its first admin command).
  Status s = OpenChecked(dir, FileRule{.directory = true}, &dfd, &st);
  if (!s.ok()) return s;
  struct stat tmp {};
  // What init moves into place: the top-level entries of the layout.
  constexpr StoreFile kTop[] = {StoreFile::kKey, StoreFile::kMfaKey, StoreFile::kData,
                                StoreFile::kLock, StoreFile::kUsageDir};
  for (const StoreFile f : kTop) {
    if (::lstat(StorePath(dir, f).c_str(), &tmp) == 0)
      return Status::AlreadyExists(
          fmt::format("{} already holds an apppass store ({} exists); init leaves it as it is", dir,
                      Layout(f).rel));
  }
  if (::fchmod(dfd.get(), Layout(StoreFile::kDir).mode) != 0 ||
      (::geteuid() == 0 && st.st_gid != 0 && ::fchown(dfd.get(), static_cast<uid_t>(-1), 0) != 0))
    return Status::Unavailable(
        fmt::format("cannot make {} root's alone: {}", dir, std::strerror(errno)));

  // Build everything in a staging directory and move it into place only when complete,
  // so a failed init leaves nothing behind and can simply be run again.
  std::string staging = dir + "/.init-XXXXXX";
  if (::mkdtemp(staging.data()) == nullptr)
    return Status::Unavailable(
        fmt::format("cannot create a directory in {}: {}", dir, std::strerror(errno)));
  s = BuildStore(staging, map_size);
  // data.mdb and key go last: a store "exists" once they do.
  for (const StoreFile f : {StoreFile::kMfaKey, StoreFile::kUsageDir, StoreFile::kLock,
                            StoreFile::kData, StoreFile::kKey}) {
    if (!s.ok()) break;
    if (::rename(StorePath(staging, f).c_str(), StorePath(dir, f).c_str()) != 0)
      s = Status::Unavailable(
          fmt::format("cannot move {} into {}: {}", Layout(f).rel, dir, std::strerror(errno)));
  }
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  return s;
}

Status Store::SetMapSize(std::size_t size) {
  Status s = CheckMapSize(size);
  if (!s.ok()) return s;
  MDB_envinfo info{};
  MDB_stat st{};
  if (mdb_env_info(env_.get(), &info) != MDB_SUCCESS ||
      mdb_env_stat(env_.get(), &st) != MDB_SUCCESS)
    return Status::Unavailable("cannot read the store's size");
  const std::size_t used = (info.me_last_pgno + 1) * std::size_t{st.ms_psize};
  if (size < used)
    return Status::InvalidArgument(fmt::format(
        "{}/data.mdb already uses {} bytes: the map size cannot be smaller", dir_, used));
  // Map the new size first, so that even a full store has room to record it.
  if (!(s = env_.SetMapSize(size)).ok()) return s;
  LmdbTxn txn;
  if ((s = LmdbTxn::Begin(env_, true, &txn)).ok() &&
      (s = txn.Put(dbs_.meta, "map_size", std::to_string(size))).ok())
    s = txn.Commit();
  if (!s.ok()) {
    txn.Abort();
    (void)env_.SetMapSize(map_size_);
    return s;
  }
  map_size_ = size;
  return Status::Ok();
}

Status Store::Begin(bool write, StoreTxn* out) const {
  out->dbs_ = dbs_;
  return LmdbTxn::Begin(env_, write, &out->txn_);
}

std::string Store::SealCredential(std::string_view hash, std::string_view json) const {
  return SealRecord(tag_key(), hash, json);
}

bool Store::CredentialIntact(std::string_view hash, std::string_view value) const {
  const bool sealed = RecordSealed(tag_key(), hash, value);
  return sealed || schema_ == 1;
}

void Store::HashPassword(const SecretBuffer& normalized, unsigned char out[kHashBytes]) const {
  const SecretBytes key = hash_key();
  crypto_generichash(out, kHashBytes, normalized.data(), normalized.size(), key.data(), key.size());
}

void Store::HashRecoveryCode(std::string_view user, const SecretBuffer& normalized,
                             unsigned char out[kHashBytes]) const {
  // "apppass-recovery" NUL user NUL code: no app password input contains a NUL.
  static constexpr std::string_view kDomain{"apppass-recovery\0", 17};
  const SecretBytes key = hash_key();
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), key.size(), kHashBytes);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kDomain.data()),
                            kDomain.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(user.data()), user.size());
  static constexpr unsigned char kNul = 0;
  crypto_generichash_update(&st, &kNul, 1);
  crypto_generichash_update(&st, normalized.data(), normalized.size());
  crypto_generichash_final(&st, out, kHashBytes);
  sodium_memzero(&st, sizeof st);
}

}  // namespace apppass
