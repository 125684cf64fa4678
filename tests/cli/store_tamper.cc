// store_tamper: breaks an apppass store on purpose, one invariant at a time, so the
// tests can prove `apppass check` finds each break (test_check.sh). Test-only: it opens
// DIR/data.mdb with LMDB directly (or rewrites its bytes) and bypasses every rule.
//
//   store_tamper DIR del TABLE KEY            delete one entry (KEY: text; "U/I" in user_ids
//                                             means U NUL I)
//   store_tamper DIR put TABLE KEY VALUE      write one entry (same key syntax)
//   store_tamper DIR copy-user FROM TO        enroll TO with a copy of FROM's record (as
//                                             an apppass without name checks would)
//   store_tamper DIR cred-field ID FIELD JSON set FIELD of credential ID's record to JSON
//   store_tamper DIR cred-raw ID VALUE        replace credential ID's record with VALUE
//                                             (both seal the record with the store's tag,
//                                             record_tag.h, as a buggy apppass would)
//   store_tamper DIR cred-damage ID           flip one bit in credential ID's record (in
//                                             "revoked", so that it still decodes): damage
//   store_tamper DIR drop-cred ID             delete credential ID's record (ids stays)
//   store_tamper DIR garbage-pages SEED       overwrite every page after the two meta
//                                             pages with random bytes
//   store_tamper DIR huge-node ID             make the ids nodes of ID claim a 2 GiB value,
//                                             so whoever reads it runs off the map
//   store_tamper DIR bulk USER N              add N consistent active credentials (random
//                                             hashes, sealed) for users USER-0, USER-1, ...
//                                             (20 each), enrolled with a copy of USER's record
//   store_tamper DIR readers N                not a break: open DIR read-only as a verifier
//                                             does and hold N read transactions at once
//                                             (N reader slots of lock.mdb), then exit
//
// Exit 0 when done, 1 with a message on stderr otherwise.
#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "record_tag.h"
#include "store.h"

namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "store_tamper: %s\n", msg.c_str());
  std::exit(1);
}

void Check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) Die(std::string(what) + ": " + mdb_strerror(rc));
}

std::string Key(const std::string& table, const std::string& text) {
  if (table != "user_ids") return text;
  const auto slash = text.find('/');
  if (slash == std::string::npos) Die("user_ids keys are USER/ID");
  return text.substr(0, slash) + '\0' + text.substr(slash + 1);
}

MDB_val Val(const std::string& s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

// One write transaction on the store, with the named table open.
struct Txn {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  explicit Txn(const std::string& dir) {
    Check(mdb_env_create(&env), "mdb_env_create");
    Check(mdb_env_set_maxdbs(env, 8), "mdb_env_set_maxdbs");
    Check(mdb_env_open(env, dir.c_str(), 0, 0640), "mdb_env_open");
    Check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
  }
  MDB_dbi Db(const std::string& name) {
    MDB_dbi dbi;
    Check(mdb_dbi_open(txn, name.c_str(), 0, &dbi), name.c_str());
    return dbi;
  }
  std::string Get(const std::string& table, const std::string& key) {
    MDB_val k = Val(key), v;
    Check(mdb_get(txn, Db(table), &k, &v), ("get " + table).c_str());
    return std::string(static_cast<char*>(v.mv_data), v.mv_size);
  }
  void Put(const std::string& table, const std::string& key, const std::string& value) {
    MDB_val k = Val(key), v = Val(value);
    Check(mdb_put(txn, Db(table), &k, &v, 0), ("put " + table).c_str());
  }
  void Del(const std::string& table, const std::string& key) {
    MDB_val k = Val(key);
    Check(mdb_del(txn, Db(table), &k, nullptr), ("del " + table).c_str());
  }
  void Commit() {
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
    txn = nullptr;
    mdb_env_close(env);
  }
};

std::string ReadFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) Die("cannot open " + path);
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  std::fclose(f);
  return data;
}

void WriteAt(const std::string& path, long offset, const void* data, size_t len) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0 || ::pwrite(fd, data, len, offset) != static_cast<ssize_t>(len) || ::fsync(fd) != 0)
    Die("cannot write " + path);
  ::close(fd);
}

// Seals `json` for `hash` with the store's own tag key, as apppass writes records.
std::string Seal(const std::string& dir, const std::string& hash, const std::string& json) {
  apppass::SecretBuffer key, tag_key;
  if (!apppass::LoadKey(dir + "/key", &key).ok() || !apppass::DeriveTagKey(key, &tag_key).ok())
    Die("cannot read " + dir + "/key");
  return apppass::SealRecord(tag_key, hash, json);
}

// A record as JSON without its tag.
nlohmann::json Unsealed(const std::string& rec) {
  nlohmann::json j = nlohmann::json::parse(rec);
  j.erase("tag");
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Die("usage: store_tamper DIR OP ARGS... (see the source)");
  const std::string dir = argv[1], op = argv[2];
  std::vector<std::string> a(argv + 3, argv + argc);
  auto need = [&](size_t n) {
    if (a.size() != n) Die(op + " takes " + std::to_string(n) + " arguments");
  };
  if (op == "del") {
    need(2);
    Txn t(dir);
    t.Del(a[0], Key(a[0], a[1]));
    t.Commit();
  } else if (op == "put") {
    need(3);
    Txn t(dir);
    t.Put(a[0], Key(a[0], a[1]), a[2]);
    t.Commit();
  } else if (op == "copy-user") {
    need(2);
    Txn t(dir);
    nlohmann::json u = nlohmann::json::parse(t.Get("users", a[0]));
    u["user"] = a[1];
    t.Put("users", a[1], u.dump());
    t.Commit();
  } else if (op == "cred-field" || op == "cred-raw" || op == "drop-cred" || op == "cred-damage") {
    need(op == "cred-field" ? 3 : op == "cred-raw" ? 2 : 1);
    Txn t(dir);
    const std::string hash = t.Get("ids", a[0]);
    if (op == "drop-cred") {
      t.Del("creds", hash);
    } else if (op == "cred-damage") {
      std::string rec = t.Get("creds", hash);
      const auto at = rec.find("\"revoked\"");
      if (at == std::string::npos) Die("the record has no \"revoked\"");
      rec[at + 3] = static_cast<char>(rec[at + 3] ^ 0x01);  // "rewoked": an unknown field
      t.Put("creds", hash, rec);
    } else if (op == "cred-raw") {
      t.Put("creds", hash, Seal(dir, hash, a[1]));
    } else {
      nlohmann::json j = Unsealed(t.Get("creds", hash));
      j[a[1]] = nlohmann::json::parse(a[2]);
      t.Put("creds", hash, Seal(dir, hash, j.dump()));
    }
    t.Commit();
  } else if (op == "bulk") {
    need(2);
    Txn t(dir);
    const nlohmann::json model = nlohmann::json::parse(t.Get("users", a[0]));
    const long n = std::strtol(a[1].c_str(), nullptr, 10);
    std::mt19937_64 rng(42);
    for (long i = 0; i < n; ++i) {
      const std::string user = a[0] + "-" + std::to_string(i / 20);
      if (i % 20 == 0) {
        nlohmann::json u = model;
        u["user"] = user;
        t.Put("users", user, u.dump());
      }
      char id[17];
      std::snprintf(id, sizeof id, "%08lx",
                    static_cast<unsigned long>(0x10000000L + (i & 0xfffffff)));
      std::string hash(32, '\0');
      for (auto& c : hash) c = static_cast<char>(rng());
      const nlohmann::json c = {{"v", 1},
                                {"id", id},
                                {"user", user},
                                {"name", "bulk " + std::to_string(i)},
                                {"scopes", {"imap"}},
                                {"created", 1700000000},
                                {"expires", nullptr},
                                {"revoked", nullptr}};
      t.Put("creds", hash, Seal(dir, hash, c.dump()));
      t.Put("ids", id, hash);
      t.Put("user_ids", user + '\0' + id, "");
    }
    t.Commit();
  } else if (op == "readers") {
    need(1);
    MDB_env* env = nullptr;
    Check(mdb_env_create(&env), "mdb_env_create");
    Check(mdb_env_set_maxdbs(env, 8), "mdb_env_set_maxdbs");
    Check(mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0640), "mdb_env_open");
    std::vector<MDB_txn*> txns(std::strtoul(a[0].c_str(), nullptr, 10));
    for (auto& t : txns) Check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &t), "mdb_txn_begin");
    for (auto* t : txns) mdb_txn_abort(t);
    mdb_env_close(env);
  } else if (op == "garbage-pages") {
    need(1);
    const std::string path = dir + "/data.mdb";
    const std::string data = ReadFile(path);
    const long page = 4096;
    std::mt19937 rng(static_cast<unsigned>(std::strtoul(a[0].c_str(), nullptr, 10)));
    std::string junk(data.size() > 2 * page ? data.size() - 2 * page : 0, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (junk.empty()) Die("data.mdb has no data pages");
    WriteAt(path, 2 * page, junk.data(), junk.size());
  } else if (op == "huge-node") {
    need(1);
    // An ids leaf node: mn_lo, mn_hi (data size), mn_flags, mn_ksize (8), then the id.
    const std::string path = dir + "/data.mdb";
    const std::string data = ReadFile(path);
    const std::string id = a[0];
    // Old copies of the page (LMDB copies on write) may hold it too: patch every one.
    bool done = false;
    for (size_t pos = data.find(id); pos != std::string::npos; pos = data.find(id, pos + 1)) {
      if (pos < 8) continue;
      unsigned short hdr[4];
      std::memcpy(hdr, data.data() + pos - 8, sizeof hdr);
      if (hdr[0] != 32 || hdr[1] != 0 || hdr[2] != 0 || hdr[3] != id.size()) continue;
      const unsigned short huge[2] = {0xffff, 0x7fff};
      WriteAt(path, static_cast<long>(pos - 8), huge, sizeof huge);
      done = true;
    }
    if (!done) Die("no ids node of " + id + " found");
  } else {
    Die("unknown operation " + op);
  }
  return 0;
}
