#include "store_check.h"

#include <sodium.h>
#include <sys/stat.h>

#include <chrono>
#include <limits>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "child.h"
#include "files.h"
#include "lmdb_env.h"
#include "record_tag.h"
#include "secret.h"
#include "store.h"
#include "store_check_internal.h"
#include "store_layout.h"
#include "store_modes.h"

namespace apppass {

namespace internal {

bool StoreChecker::CheckModes() {
  const std::vector<LooseEntry> loose = FindLooseEntries(dir_);
  bool accessible = false;
  for (const LooseEntry& e : loose) {
    const std::string key = *Layout(e.file).rel == '\0' ? "." : Layout(e.file).rel;
    const std::string fix =
        e.tightenable ? fmt::format(
                            "run any admin command as root to tighten it, e.g. 'apppass --db {} "
                            "list' (or chmod {:04o} {} && chgrp root {})",
                            dir_, Layout(e.file).mode, e.path, e.path)
                      : fmt::format(
                            "find out who changed it (anyone could have written it), then chmod "
                            "{:04o} {} && chgrp root {}",
                            Layout(e.file).mode, e.path, e.path);
    if (e.accessible()) {
      accessible = true;
      Problem("files", key,
              fmt::format("{} is group- or world-accessible ({}): the store must be root's alone, "
                          "or a member of its group can read the keys and take or rewrite "
                          "LMDB's locks",
                          e.path, DescribeTightening(e)),
              fix);
    } else {
      Warning("files", key,
              fmt::format("{} differs from the store's layout ({})", e.path, DescribeTightening(e)),
              fix);
    }
  }
  if (accessible)
    Warning("files", "",
            "the records were not checked: the store is read only once it is root's alone",
            "tighten the store (above), then run 'apppass check' again");
  return !accessible;
}

Status StoreChecker::CheckFiles(SecretBuffer* mfa_key, SecretBuffer* tag_key) {
  Fd fd;
  struct stat st {};
  Status s = OpenChecked(dir_, Layout(StoreFile::kDir).rule, &fd, &st);
  if (s.IsNotFound())
    return Status::Unavailable(
        fmt::format("store {} does not exist (create it with 'apppass init')", dir_));
  if (!s.ok()) return s;
  s = OpenChecked(StorePath(dir_, StoreFile::kData), Layout(StoreFile::kData).rule, &fd, &st);
  if (s.IsNotFound())
    return Status::Unavailable(
        fmt::format("{} has no data.mdb; is it an apppass store (run 'apppass init')?", dir_));
  if (!s.ok()) return s;
  // Reading needs the reader table, so that a writer cannot reuse pages being read.
  s = OpenChecked(StorePath(dir_, StoreFile::kLock), Layout(StoreFile::kLock).rule, &fd, &st);
  if (s.IsNotFound())
    return Status::Unavailable(fmt::format(
        "{}/lock.mdb (the reader table) does not exist, so verifiers cannot open the store; "
        "any other apppass command recreates it, e.g. 'apppass --db {} list'",
        dir_, dir_));
  if (!s.ok()) return s;
  SecretBuffer hash_key;
  CheckKey("key", false, &hash_key);
  if (hash_key.size() == kKeyBytes) (void)DeriveTagKey(hash_key, tag_key);
  CheckKey("mfa.key", true, mfa_key);
  return Status::Ok();
}

void StoreChecker::CheckKey(const char* name, bool owner_only, SecretBuffer* out) {
  const std::string path = dir_ + "/" + name;
  SecretBuffer key;
  Status s = LoadKey(path, &key, owner_only);
  if (s.ok()) {
    if (out != nullptr) *out = std::move(key);
    return;
  }
  Problem("files", name, s.message(),
          std::string_view(name) == "key"
              ? "restore the key file from a backup: without it no app password verifies"
              : "restore mfa.key from a backup, or 'apppass mfa reset' each user and enroll again");
}

Status StoreChecker::CheckContents(const SecretBuffer& mfa_key, const SecretBuffer& tag_key) {
  tag_key_ = &tag_key;
  LmdbEnv env;
  Status s = LmdbEnv::Open(dir_, MDB_RDONLY, kMapInUse, &env);
  if (!s.ok()) return s;
  LmdbTxn txn;
  if (!(s = LmdbTxn::Begin(env, false, &txn)).ok()) return s;
  WalkTables(txn);
  CheckMeta();
  CheckCreds();
  CheckIds();
  CheckUserIds();
  CheckUsers(mfa_key);
  CheckCounts();
  CheckInvisible();
  txn.Abort();
  CheckUsage();
  return Status::Ok();
}

}  // namespace internal

namespace {

using nlohmann::json;

// The child's report, sent to the parent as JSON.
json ToJson(const CheckReport& r) {
  json f = json::array();
  for (const auto& x : r.findings)
    f.push_back({{"level", static_cast<int>(x.level)},
                 {"table", x.table},
                 {"key", x.key},
                 {"message", x.message},
                 {"fix", x.fix}});
  return {{"users", r.users},     {"credentials", r.credentials}, {"active", r.active},
          {"revoked", r.revoked}, {"expired", r.expired},         {"usage", r.usage_records},
          {"findings", f}};
}

void FromJson(const json& j, CheckReport* r) {
  r->users = j.at("users").get<std::size_t>();
  r->credentials = j.at("credentials").get<std::size_t>();
  r->active = j.at("active").get<std::size_t>();
  r->revoked = j.at("revoked").get<std::size_t>();
  r->expired = j.at("expired").get<std::size_t>();
  r->usage_records = j.at("usage").get<std::size_t>();
  for (const auto& x : j.at("findings"))
    r->findings.push_back(
        CheckFinding{static_cast<CheckLevel>(x.at("level").get<int>()),
                     x.at("table").get<std::string>(), x.at("key").get<std::string>(),
                     x.at("message").get<std::string>(), x.at("fix").get<std::string>()});
}

// The child: reads the store and reports {"ok":..., "message":..., "report":...}.
std::string ChildReport(const std::string& dir, const CheckOptions& opts,
                        const SecretBuffer& mfa_key, const SecretBuffer& tag_key) {
  CheckReport report;
  internal::StoreChecker checker(dir, opts, &report);
  const Status s = checker.CheckContents(mfa_key, tag_key);
  json j = {{"ok", s.ok()}, {"message", s.message()}};
  if (s.ok()) j["report"] = ToJson(report);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

const char* CheckLevelName(CheckLevel level) {
  return level == CheckLevel::kProblem ? "problem" : "warning";
}

std::size_t CheckReport::Count(CheckLevel level) const {
  std::size_t n = 0;
  for (const auto& f : findings) n += f.level == level;
  return n;
}

Status CheckStore(const std::string& dir, const CheckOptions& opts, CheckReport* out) {
  if (sodium_init() < 0) return Status::Unavailable("libsodium failed to initialize");
  CheckReport report;
  internal::StoreChecker checker(dir, opts, &report);
  // A group-accessible store (made by an older apppass) is reported, and read no further.
  if (!checker.CheckModes()) {
    *out = std::move(report);
    return Status::Ok();
  }
  SecretBuffer mfa_key, tag_key;
  Status s = checker.CheckFiles(&mfa_key, &tag_key);
  if (!s.ok()) return s;

  const ChildResult run = RunInChild([&] { return ChildReport(dir, opts, mfa_key, tag_key); },
                                     std::chrono::seconds(opts.timeout_seconds),
                                     std::numeric_limits<std::size_t>::max());
  if (run.end == ChildResult::End::kNotRun) return Status::Internal(run.error);

  const std::string what = "data.mdb";
  if (run.end == ChildResult::End::kTimedOut) {
    checker.Problem(
        "lmdb", what,
        fmt::format("reading the store did not finish within {} s (damaged pages that loop?)",
                    opts.timeout_seconds));
  } else if (run.end == ChildResult::End::kSignaled) {
    checker.Problem("lmdb", what,
                    fmt::format("store pages are corrupt (reading them crashed with {})",
                                SignalName(run.signal)));
  } else if (!run.ok()) {
    checker.Problem(
        "lmdb", what,
        fmt::format("reading the store failed (the checking process exited with status {})",
                    run.exit_status));
  } else {
    const json j = json::parse(run.report, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok"))
      return Status::Internal("the checking process sent an unreadable report");
    if (!j["ok"].get<bool>())
      return Status::Unavailable(j.value("message", std::string("cannot open the store")));
    try {
      CheckReport child;
      FromJson(j.at("report"), &child);
      report.users = child.users;
      report.credentials = child.credentials;
      report.active = child.active;
      report.revoked = child.revoked;
      report.expired = child.expired;
      report.usage_records = child.usage_records;
      for (auto& f : child.findings) report.findings.push_back(std::move(f));
    } catch (...) {
      return Status::Internal("the checking process sent an unreadable report");
    }
  }
  *out = std::move(report);
  return Status::Ok();
}

std::string FormatCheckText(const std::string& dir, const CheckReport& r) {
  std::string out;
  for (const auto& f : r.findings) {
    out += fmt::format("{}: {}{}{}: {}", CheckLevelName(f.level), f.table, f.key.empty() ? "" : " ",
                       f.key, f.message);
    if (!f.fix.empty()) out += "; fix: " + f.fix;
    out += '\n';
  }
  const std::size_t problems = r.Count(CheckLevel::kProblem),
                    warnings = r.Count(CheckLevel::kWarning);
  out += fmt::format(
      "store {}: {} user{}, {} app password{} ({} active, {} revoked, {} expired), {} problem{}, "
      "{} warning{}\n",
      dir, r.users, r.users == 1 ? "" : "s", r.credentials, r.credentials == 1 ? "" : "s", r.active,
      r.revoked, r.expired, problems, problems == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
  return out;
}

std::string FormatCheckJson(const std::string& dir, const CheckReport& r) {
  json f = json::array();
  for (const auto& x : r.findings)
    f.push_back({{"status", CheckLevelName(x.level)},
                 {"table", x.table},
                 {"key", x.key},
                 {"message", x.message},
                 {"fix", x.fix}});
  const json j = {{"store", dir},
                  {"users", r.users},
                  {"credentials",
                   {{"total", r.credentials},
                    {"active", r.active},
                    {"revoked", r.revoked},
                    {"expired", r.expired}}},
                  {"usage_records", r.usage_records},
                  {"problems", r.Count(CheckLevel::kProblem)},
                  {"warnings", r.Count(CheckLevel::kWarning)},
                  {"findings", f}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace apppass
