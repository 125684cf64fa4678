#include "usage.h"

#include <algorithm>
#include <mutex>

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

// Whether a use recorded as `last` (when `got` is Ok) makes recording `use` (as stored)
// unnecessary.
bool Throttled(const Status& got, const Usage& last, const Usage& use, std::int64_t min_interval) {
  return got.ok() && last.service == use.service && last.rhost == use.rhost &&
         use.time - last.time < min_interval && use.time >= last.time;
}

}  // namespace

Status UsageDb::Record(std::string_view id, const Usage& use, std::int64_t min_interval) const {
  const Usage stored = Stored(use);
  Usage last;
  Status s = Get(id, &last);
  if (Throttled(s, last, stored, min_interval)) return Status::Ok();
  LmdbTxn txn;
  if (!(s = LmdbTxn::Begin(env_, true, &txn)).ok()) return s;
  if (!(s = txn.Put(dbi_, id, EncodeUsage(stored))).ok()) return s;
  return txn.Commit();
}

Status UsageDb::RecordIn(const std::string& store_dir, std::string_view id, const Usage& use,
                         std::int64_t min_interval) {
  // A writable environment cannot open while another thread of this process has a
  // read-only one on the same file (env_registry.h): one recording at a time per module.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  {
    UsageDb reader;
    Status s = Open(store_dir, false, &reader);
    if (!s.ok()) return s;
    Usage last;
    if (Throttled(reader.Get(id, &last), last, Stored(use), min_interval)) return Status::Ok();
  }  // closed before the writable one opens (one environment per file per process)
  UsageDb writer;
  Status s = Open(store_dir, true, &writer);
  if (!s.ok()) return s;
  return writer.Record(id, use, min_interval);  // checks again: another login may have
                                                // recorded it meanwhile
}

Status UsageDb::Remove(std::string_view id) const {
  LmdbTxn txn;
  Status s = LmdbTxn::Begin(env_, true, &txn);
  if (!s.ok()) return s;
  if (!(s = txn.Del(dbi_, id)).ok()) return s;
  return txn.Commit();
}

}  // namespace apppass
