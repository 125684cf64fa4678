// bench_bulk_load: builds a big store quickly, for the benchmarks only.
//
//   bench_bulk_load DIR COUNT PER_USER
//
// Creates a new store in DIR (Store::Init, with a map size for COUNT records) holding
// COUNT app passwords, PER_USER per user: users bench::UserName(0..), each with a
// confirmed MFA enrollment; credential i belongs to user i / PER_USER, is named
// "p<i % PER_USER>", scoped to imap, and its password is bench::PasswordFor(i), so the
// benchmarks know every password. Every record is what the admin API writes
// (common/admin.cc CreateLocked and EnrollLocked): the keyed hash of the normalized
// password (Store::HashPassword) -> the sealed credential (Store::SealCredential of
// EncodeCredential), id -> hash, user NUL id -> "", user -> EncodeUser with the TOTP
// secret sealed by the admin key. Instead of one transaction per password it sorts every
// table's keys and appends them (MDB_APPEND) in transactions of 100,000, without syncing
// until the end: ten million load in minutes.
//
// Then checks a sample through the real Verify (with its time floor): every sampled
// password is accepted, a wrong one refused; exits 1 otherwise. Writes DIR.json (count,
// per_user, load seconds, bytes of data.mdb in use, file size) for the other parts.
#include <lmdb.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include "bench_common.h"
#include "records.h"
#include "store_internal.h"
#include "totp.h"
#include "verifier.h"

using namespace apppass;
using bench::Die;

namespace {

constexpr std::size_t kBatch = 100'000;

void Check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) Die(std::string(what) + ": " + mdb_strerror(rc));
}

// Appends `n` records made by `make(k, &key, &value)` for k = 0..n-1, in key order, into
// `dbi`, committing every kBatch.
template <typename Make>
void Append(MDB_env* env, MDB_dbi dbi, std::size_t n, Make&& make) {
  std::string key, value;
  for (std::size_t start = 0; start < n; start += kBatch) {
    MDB_txn* txn = nullptr;
    Check(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    for (std::size_t k = start; k < std::min(n, start + kBatch); ++k) {
      make(k, &key, &value);
      MDB_val kv{key.size(), key.data()}, vv{value.size(), value.data()};
      Check(mdb_put(txn, dbi, &kv, &vv, MDB_APPEND), "put");
    }
    Check(mdb_txn_commit(txn), "commit");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) Die("usage: bench_bulk_load DIR COUNT PER_USER");
  const std::string dir = argv[1];
  const std::uint64_t count = std::strtoull(argv[2], nullptr, 10);
  const std::uint64_t per_user = std::strtoull(argv[3], nullptr, 10);
  if (count == 0 || per_user == 0 || count > 100'000'000) Die("bad COUNT or PER_USER");
  const std::uint64_t users = (count + per_user - 1) / per_user;
  const double t0 = bench::NowUs();

  // Address space: about 700 bytes per credential and user record (measured ~450 at
  // one per user), with room; the file stays sparse.
  std::size_t map = static_cast<std::size_t>(count) * 1024 + (std::size_t{256} << 20);
  map = std::min(map, kMaxMapSize);
  Status s = Store::Init(dir, map);
  if (!s.ok()) Die("init: " + s.message());
  {
    Store admin;
    if (!(s = Store::Open(dir, Store::Mode::kAdmin, &admin)).ok()) Die("open: " + s.message());
    MDB_env* env = internal::StoreAccess::env(admin).get();
    const StoreDbs& dbs = internal::StoreAccess::dbs(admin);
    Check(mdb_env_set_flags(env, MDB_NOSYNC, 1), "nosync");  // synced once at the end

    // The keyed hash of every password, then the credentials in hash order.
    std::vector<std::array<unsigned char, kHashBytes>> hashes(count);
    {
      SecretBuffer normalized(kMaxPasswordInput);
      if (!normalized.valid()) Die("out of secure memory");
      for (std::uint64_t i = 0; i < count; ++i) {
        const std::string pw = bench::PasswordFor(i);
        if (!NormalizePassword(pw, normalized).ok()) Die("password does not normalize: " + pw);
        admin.HashPassword(normalized, hashes[i].data());
      }
    }
    std::vector<std::uint32_t> order(count);
    for (std::uint64_t i = 0; i < count; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return std::memcmp(hashes[a].data(), hashes[b].data(), kHashBytes) < 0;
    });
    for (std::uint64_t k = 1; k < count; ++k)
      if (hashes[order[k]] == hashes[order[k - 1]]) Die("two passwords with one hash");
    const double t_hash = bench::NowUs();

    auto hash_of = [&](std::uint64_t i) {
      return std::string(reinterpret_cast<const char*>(hashes[i].data()), kHashBytes);
    };
    Append(env, dbs.creds, count, [&](std::size_t k, std::string* key, std::string* value) {
      const std::uint64_t i = order[k];
      Credential c;
      c.id = bench::CredId(i);
      c.user = bench::UserName(i / per_user);
      c.name = "p" + std::to_string(i % per_user);
      c.scopes = {"imap"};
      c.created = bench::kNow;
      *key = hash_of(i);
      *value = admin.SealCredential(*key, EncodeCredential(c));
    });
    Append(env, dbs.ids, count, [&](std::size_t i, std::string* key, std::string* value) {
      *key = bench::CredId(i);
      *value = hash_of(i);
    });
    Append(env, dbs.user_ids, count, [&](std::size_t i, std::string* key, std::string* value) {
      *key = bench::UserName(i / per_user);
      key->push_back('\0');
      key->append(bench::CredId(i));
      value->clear();
    });
    // One TOTP secret sealed afresh for each user (its own nonce), as EnrollLocked seals.
    SecretBuffer secret = NewTotpSecret();
    if (!secret.valid()) Die("out of secure memory");
    Append(env, dbs.users, users, [&](std::size_t u, std::string* key, std::string* value) {
      UserRecord r;
      r.user = bench::UserName(u);
      r.mfa = MfaState::kConfirmed;
      r.enrolled = bench::kNow - 60;
      r.confirmed = bench::kNow - 30;
      r.last_step = (bench::kNow - 30) / 30;
      if (!SealSecret(admin.mfa_key(), secret, &r.sealed_secret).ok()) Die("seal");
      *key = r.user;
      *value = EncodeUser(r);
    });
    Check(mdb_env_sync(env, 1), "sync");
    const double t_end = bench::NowUs();

    MDB_envinfo info{};
    MDB_stat st{};
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    std::error_code ec;
    const nlohmann::json j = {
        {"dir", std::filesystem::absolute(dir).string()},
        {"count", count},
        {"per_user", per_user},
        {"users", users},
        {"hash_seconds", (t_hash - t0) / 1e6},
        {"load_seconds", (t_end - t0) / 1e6},
        {"bytes_in_use", static_cast<std::uint64_t>(info.me_last_pgno + 1) * st.ms_psize},
        {"file_bytes", std::filesystem::file_size(dir + "/data.mdb", ec)},
        {"map_size", map}};
    bench::WriteResult(dir + ".json", j);
    std::printf("loaded %llu app passwords (%llu per user) in %.1f s; data.mdb %.1f MiB in use\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(per_user),
                (t_end - t0) / 1e6, j["bytes_in_use"].get<double>() / (1 << 20));
  }

  // Correctness: a sample verifies through the real Verify.
  Store v;
  if (!(s = Store::Open(dir, Store::Mode::kVerify, &v)).ok()) Die("open verify: " + s.message());
  std::mt19937_64 rng(7);
  const int sample = static_cast<int>(std::min<std::uint64_t>(count, 500));
  for (int k = 0; k < sample; ++k) {
    const std::uint64_t i = k == 0 ? count - 1 : rng() % count;
    const std::string user = bench::UserName(i / per_user);
    Decision d = Verify(v, user, bench::PasswordFor(i), "imap", bench::kNow);
    if (d.outcome != Outcome::kAccepted || d.id != bench::CredId(i))
      Die("credential " + std::to_string(i) + " of " + user + ": " +
          std::string(OutcomeName(d.outcome)) + " " + d.detail);
    d = Verify(v, user, bench::PasswordFor(i, 1), "imap", bench::kNow);
    if (d.outcome != Outcome::kWrongPassword)
      Die("a wrong password of " + user + ": " + std::string(OutcomeName(d.outcome)));
  }
  std::printf("checked %d sampled passwords through Verify: accepted; wrong ones refused\n",
              sample);
  return 0;
}
