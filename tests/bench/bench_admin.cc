// bench_admin: admin operations and store size (part "admin" of tests/bench/run-benchmarks).
//
//   bench_admin --out FILE.json --stores DIR [--quick]
//
// On the largest one-per-user store bench_bulk_load made in DIR, opened for administration
// as `apppass` opens it (every commit synced to disk: LMDB's default), times
// CreatePassword (a new app password for a random existing user, committed) and
// RevokePasswords of that password by id (committed), each call the whole admin API
// operation including the commit. Store size: bytes of data.mdb in use (last page used x
// page size) per million app passwords, from every bulk-loaded store (1 and 25 per user).
// Asserts that every created password verifies and every revoked one is refused.
#include <random>

#include "admin.h"
#include "bench_common.h"
#include "verifier.h"

using namespace apppass;
using bench::Die;

int main(int argc, char** argv) {
  const bench::Args args = bench::ParseArgs(argc, argv);
  if (args.stores.empty()) Die("bench_admin needs --stores DIR");
  const auto stores = bench::LoadedStores(args.stores);
  const bench::LoadedStore* st = nullptr;
  for (const auto& s : stores)
    if (s.per_user == 1 && (st == nullptr || s.count > st->count)) st = &s;
  if (st == nullptr) Die("no one-per-user store in " + args.stores);
  const int rounds = args.quick ? 20 : 300;

  nlohmann::json rows = nlohmann::json::array();
  Store admin;
  Status s = Store::Open(st->dir, Store::Mode::kAdmin, &admin);
  if (!s.ok()) Die("open: " + s.message());
  std::mt19937_64 rng(11);
  std::vector<double> create_us, revoke_us;
  std::vector<std::pair<std::string, Created>> made;
  const double c0 = bench::CpuUs();
  for (int k = 0; k < rounds; ++k) {
    const std::string user = bench::UserName(rng() % (st->count / st->per_user));
    CreateRequest req{.user = user, .name = "bench-admin-" + std::to_string(k), .scopes = {"imap"}};
    Created c;
    const double t0 = bench::NowUs();
    if (!(s = CreatePassword(admin, req, bench::kNow, &c)).ok()) Die("create: " + s.message());
    create_us.push_back(bench::NowUs() - t0);
    made.emplace_back(user, std::move(c));
  }
  const double create_cpu = (bench::CpuUs() - c0) / rounds;
  const double c1 = bench::CpuUs();
  for (auto& [user, c] : made) {
    std::vector<std::string> ids;
    const double t0 = bench::NowUs();
    if (!(s = RevokePasswords(admin, user, RevokeSelector{.id = c.cred.id}, bench::kNow, &ids))
             .ok() ||
        ids.size() != 1)
      Die("revoke: " + s.message());
    revoke_us.push_back(bench::NowUs() - t0);
  }
  const double revoke_cpu = (bench::CpuUs() - c1) / rounds;
  {
    Store v;
    if (!(s = Store::Open(st->dir, Store::Mode::kVerify, &v)).ok()) Die("open verify");
    for (auto& [user, c] : made)
      if (internal::VerifyUnpadded(v, user, c.password.view(), "imap", bench::kNow).outcome !=
          Outcome::kRevoked)
        Die("a revoked password is not refused as revoked");
  }
  rows.push_back(bench::Row("create (CreatePassword, committed)", create_us, create_cpu));
  rows.push_back(bench::Row("revoke by id (RevokePasswords, committed)", revoke_us, revoke_cpu));
  for (auto& r : rows) r["extra"]["store"] = st->count;

  nlohmann::json sizes = nlohmann::json::array(), size_rows = nlohmann::json::array();
  for (const auto& l : stores) {
    const double in_use = l.info.value("bytes_in_use", 0.0);
    const double per_million = in_use / static_cast<double>(l.count) * 1e6;
    sizes.push_back({{"stored", l.count},
                     {"per_user", l.per_user},
                     {"bytes_in_use", in_use},
                     {"mib_per_million", per_million / (1 << 20)},
                     {"bytes_per_password", in_use / static_cast<double>(l.count)},
                     {"load_seconds", l.info.value("load_seconds", 0.0)}});
    size_rows.push_back(
        {{"name", std::to_string(l.count) + " stored, " + std::to_string(l.per_user) + " per user"},
         {"n", l.count},
         {"extra",
          {{"data.mdb MiB in use", in_use / (1 << 20)},
           {"MiB per million", per_million / (1 << 20)},
           {"bulk load s", l.info.value("load_seconds", 0.0)}}}});
  }
  for (const auto& r : rows) std::printf("%s\n", r.dump().c_str());
  for (const auto& r : size_rows) std::printf("%s\n", r.dump().c_str());
  const nlohmann::json out = {
      {"part", "admin"},
      {"title", "Admin operations and store size"},
      {"order", 50},
      {"config",
       {{"store", st->count}, {"rounds", rounds}, {"sync", "every commit (LMDB default)"}}},
      {"rows", rows},
      {"targets", nlohmann::json::array()},
      {"sizes", sizes},
      {"tables", {{{"title", "Store size (data.mdb in use)"}, {"rows", size_rows}}}},
      {"notes",
       {"create: a new app password for a random user of the store (the admin API's whole "
        "operation: policy read, the user's records, keyed hash, sealed record, commit with "
        "fsync)",
        "revoke: the same user's new password by id, committed",
        "store size: data.mdb pages in use x page size, from the bulk-loaded stores (a user "
        "record with its sealed TOTP secret per user)"}}};
  bench::WriteResult(args.out, out);
  return 0;
}
