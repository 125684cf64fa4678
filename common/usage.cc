#include "usage.h"

#include <algorithm>

#include <fmt/format.h>

#include "files.h"
#include "store_layout.h"
#include "text.h"

namespace apppass {

Status UsageDb::Open(const std::string& store_dir, bool write, UsageDb* out) {
  const std::string dir = StorePath(store_dir, StoreFile::kUsageDir);
  Fd fd;
  struct stat st {};
  Status s = OpenChecked(dir, Layout(StoreFile::kUsageDir).rule, &fd, &st);
  if (s.ok())
    s = OpenChecked(StorePath(store_dir, StoreFile::kUsageData), Layout(StoreFile::kUsageData).rule,
                    &fd, &st);
  const auto data_size = static_cast<std::size_t>(st.st_size);
  UsageDb db;
  // Readers map what is in use; writers that plus some room to grow.
  const std::size_t mapsize =
      write ? std::max<std::size_t>(kUsageMapSize, data_size + kUsageMapSlack) : kMapInUse;
  // LmdbEnv::Open checks lock.mdb (never by opening it while this process has it open).
  if (s.ok())
    s = LmdbEnv::Open(dir, write ? MDB_NOMETASYNC : MDB_RDONLY, mapsize, &db.env_,
                      /*lock_must_exist=*/true);
  if (s.IsNotFound())
    return Status::Unavailable(fmt::format("usage database {} is missing: {}", dir, s.message()));
  if (!s.ok()) return s;
  LmdbTxn txn;
  if (!(s = LmdbTxn::Begin(db.env_, false, &txn)).ok()) return s;
  if (!(s = txn.OpenDb("usage", false, &db.dbi_)).ok()) return s;
  if (!(s = txn.Commit()).ok()) return s;
  *out = std::move(db);
  return Status::Ok();
}

Status UsageDb::Get(std::string_view id, Usage* out) const {
  LmdbTxn txn;
  Status s = LmdbTxn::Begin(env_, false, &txn);
  if (!s.ok()) return s;
  std::string_view v;
  s = txn.Get(dbi_, id, &v);
  if (!s.ok()) return s;
  return DecodeUsage(v, out);
}

namespace {

// `use` as it is stored: service and remote host come from the client side (a PAM
// application, a SASL peer) and are read by root's terminal later, so only printable ASCII
// is kept; other bytes, '"' and '\' are written as \xHH (text.h LogText).
Usage Stored(const Usage& use) {
  Usage out = use;
  out.service = LogText(use.service, kMaxUsageField);
  out.rhost = LogText(use.rhost, kMaxUsageField);
  return out;
}

// Whether a use recorded as `last` (when `got` is Ok) makes recording `use` unnecessary:
// it is less than the interval older (time only). A recorded time in the future (a clock
// set back) never throttles.
bool Throttled(const Status& got, const Usage& last, const Usage& use, std::int64_t min_interval) {
  return got.ok() && use.time - last.time < min_interval && use.time >= last.time;
}

}  // namespace

Status UsageDb::Record(std::string_view id, const Usage& use, std::int64_t min_interval) const {
  Usage last;
  Status s = Get(id, &last);
  if (Throttled(s, last, use, min_interval)) return Status::Ok();
  LmdbTxn txn;
  if (!(s = LmdbTxn::Begin(env_, true, &txn)).ok()) return s;
  // Checked again inside the write transaction: another thread or process may have
  // recorded it since the read.
  std::string_view v;
  if (txn.Get(dbi_, id, &v).ok() && DecodeUsage(v, &last).ok() &&
      Throttled(Status::Ok(), last, use, min_interval))
    return Status::Ok();
  if (!(s = txn.Put(dbi_, id, EncodeUsage(Stored(use)))).ok()) return s;
  return txn.Commit();
}

Status UsageDb::Remove(std::string_view id) const {
  LmdbTxn txn;
  Status s = LmdbTxn::Begin(env_, true, &txn);
  if (!s.ok()) return s;
  if (!(s = txn.Del(dbi_, id)).ok()) return s;
  return txn.Commit();
}

}  // namespace apppass
