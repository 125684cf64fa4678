#include "policy.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "option_values.h"
#include "text.h"

namespace apppass {

using nlohmann::json;

namespace {

constexpr const char* kPolicyMetaKey = "policy";
constexpr int kPolicyVersion = 1;
constexpr std::size_t kMaxPolicyRecordBytes = 16 * 1024;
// More services than any site offers; bounds the record.
constexpr std::size_t kMaxPolicyScopes = 64;

Status Corrupt(std::string_view why) {
  return Status::Unavailable(fmt::format("corrupt policy record: {}", why),
                             "apppass policy reset, then set the policy again");
}

// The keys, for messages.
std::string KeyList() {
  std::string out;
  for (std::string_view k : kPolicyKeys) {
    if (!out.empty()) out += ' ';
    out += k;
  }
  return out;
}

// The rules every stored policy keeps, whoever wrote it.
Status CheckScopes(const std::vector<std::string>& scopes) {
  if (scopes.empty())
    return Status::InvalidArgument("self_service_scopes needs at least one service");
  if (scopes.size() > kMaxPolicyScopes)
    return Status::InvalidArgument(
        fmt::format("self_service_scopes takes at most {} services", kMaxPolicyScopes));
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    Status s = ValidateScope(scopes[i]);
    if (!s.ok()) return Status::InvalidArgument("self_service_scopes: " + s.message());
    if (std::find(scopes.begin(), scopes.begin() + static_cast<std::ptrdiff_t>(i), scopes[i]) !=
        scopes.begin() + static_cast<std::ptrdiff_t>(i))
      return Status::InvalidArgument(
          fmt::format("self_service_scopes names '{}' twice", scopes[i]));
  }
  return Status::Ok();
}

Status CheckPolicy(const Policy& p) {
  Status s = CheckScopes(p.self_service_scopes);
  if (!s.ok()) return s;
  if (p.max_active < 1 || p.max_active > kMaxMaxActive)
    return Status::InvalidArgument(fmt::format("max_active must be 1 to {}", kMaxMaxActive));
  for (const auto& [name, d] :
       {std::pair{"default_expiry", p.default_expiry}, std::pair{"max_expiry", p.max_expiry}})
    if (d && (!ParseDuration(std::to_string(*d)) || *d <= 0))
      return Status::InvalidArgument(fmt::format("{} is not a duration", name));
  if (p.default_expiry && p.max_expiry && *p.default_expiry > *p.max_expiry)
    return Status::InvalidArgument(fmt::format("default_expiry ({}) is longer than max_expiry ({})",
                                               DurationText(*p.default_expiry),
                                               DurationText(*p.max_expiry)));
  return Status::Ok();
}

// A duration field of the record: null (never) or a positive integer of seconds.
bool GetDuration(const json& j, const char* key, std::optional<std::int64_t>* out) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  if (it->is_null()) {
    out->reset();
    return true;
  }
  if (!it->is_number_integer()) return false;
  *out = it->get<std::int64_t>();
  return true;
}

Status DecodeJson(const json& j, Policy* out) {
  if (!j.is_object()) return Corrupt("not a JSON object");
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer()) return Corrupt("no format version");
  if (v->get<std::int64_t>() != kPolicyVersion)
    return Corrupt(fmt::format("format version {}, this apppass understands {}",
                               LogSafe(v->dump(), 32), kPolicyVersion));
  Policy p;
  auto e = j.find("self_enroll");
  if (e == j.end() || !e->is_boolean()) return Corrupt("bad field 'self_enroll'");
  p.self_enroll = e->get<bool>();
  auto sc = j.find("self_service_scopes");
  if (sc == j.end() || !sc->is_array()) return Corrupt("bad field 'self_service_scopes'");
  p.self_service_scopes.clear();
  for (const json& x : *sc) {
    if (!x.is_string()) return Corrupt("bad field 'self_service_scopes'");
    p.self_service_scopes.push_back(x.get<std::string>());
  }
  auto m = j.find("max_active");
  if (m == j.end() || !m->is_number_integer()) return Corrupt("bad field 'max_active'");
  const std::int64_t max_active = m->get<std::int64_t>();
  if (max_active < 1 || max_active > kMaxMaxActive) return Corrupt("bad field 'max_active'");
  p.max_active = static_cast<int>(max_active);
  if (!GetDuration(j, "default_expiry", &p.default_expiry))
    return Corrupt("bad field 'default_expiry'");
  if (!GetDuration(j, "max_expiry", &p.max_expiry)) return Corrupt("bad field 'max_expiry'");
  const Status s = CheckPolicy(p);
  if (!s.ok()) return Corrupt(s.message());
  *out = std::move(p);
  return Status::Ok();
}

// Parses `value` for `key` into `p`.
Status ApplyKey(std::string_view key, std::string_view value, Policy* p) {
  const std::string shown = LogQuoted(value, 64);
  if (key == "self_enroll") {
    if (!ParseYesNo(value, &p->self_enroll))
      return Status::InvalidArgument(fmt::format("self_enroll must be yes or no, not {}", shown));
  } else if (key == "self_service_scopes") {
    std::vector<std::string> scopes;
    std::size_t i = 0;
    while (i < value.size()) {
      if (value[i] == ' ') {
        ++i;
        continue;
      }
      const std::size_t end = std::min(value.find(' ', i), value.size());
      scopes.emplace_back(value.substr(i, end - i));
      i = end;
    }
    Status s = CheckScopes(scopes);
    if (!s.ok())
      return Status::InvalidArgument(s.message() +
                                     " (space-separated service names, e.g. \"imap smtp\")");
    p->self_service_scopes = std::move(scopes);
  } else if (key == "max_active") {
    int n = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, n);
    if (value.empty() || ec != std::errc() || ptr != end || n < 1 || n > kMaxMaxActive)
      return Status::InvalidArgument(
          fmt::format("max_active must be a number from 1 to {}, not {}", kMaxMaxActive, shown));
    p->max_active = n;
  } else if (key == "default_expiry" || key == "max_expiry") {
    std::optional<std::int64_t> d;
    if (value != "never") {
      d = ParseDuration(value);
      if (!d)
        return Status::InvalidArgument(fmt::format(
            "{} must be a duration (90d, 12h, 30m, 2w, seconds) or never, not {}", key, shown));
    }
    (key == "default_expiry" ? p->default_expiry : p->max_expiry) = d;
  } else {
    return Status::InvalidArgument(
        fmt::format("unknown policy key {}; the keys are: {}", LogQuoted(key, 64), KeyList()));
  }
  return CheckPolicy(*p);
}

}  // namespace

std::string EncodePolicy(const Policy& p) {
  auto dur = [](const std::optional<std::int64_t>& d) { return d ? json(*d) : json(nullptr); };
  const json j = {{"version", kPolicyVersion},
                  {"self_enroll", p.self_enroll},
                  {"self_service_scopes", p.self_service_scopes},
                  {"max_active", p.max_active},
                  {"default_expiry", dur(p.default_expiry)},
                  {"max_expiry", dur(p.max_expiry)}};
  return j.dump();
}

Status DecodePolicy(std::string_view record, Policy* out) try {
  if (record.size() > kMaxPolicyRecordBytes) return Corrupt("too large");
  const json j = json::parse(record.begin(), record.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt("not JSON");
  return DecodeJson(j, out);
} catch (...) {
  return Corrupt("unreadable");
}

Status ReadPolicy(const StoreTxn& txn, Policy* out) {
  std::string_view rec;
  const Status s = txn.Get(Table::kMeta, kPolicyMetaKey, &rec);
  if (s.IsNotFound()) {
    *out = Policy{};
    return Status::Ok();
  }
  if (!s.ok()) return s;
  return DecodePolicy(rec, out);
}

Status ReadPolicy(const Store& store, Policy* out) {
  StoreTxn txn;
  const Status s = store.Begin(false, &txn);
  if (!s.ok()) return s;
  return ReadPolicy(txn, out);
}

Status SetPolicy(const Store& store, std::string_view key, std::string_view value) try {
  StoreTxn txn;
  Status s = store.Begin(true, &txn);
  if (!s.ok()) return s;
  Policy p;
  if (!(s = ReadPolicy(txn, &p)).ok()) return s;
  if (!(s = ApplyKey(key, value, &p)).ok()) return s;
  if (!(s = txn.Put(Table::kMeta, kPolicyMetaKey, EncodePolicy(p))).ok()) return s;
  return txn.Commit();
} catch (const std::bad_alloc&) {
  return Status::Internal("out of memory");
}

Status ResetPolicy(const Store& store) {
  StoreTxn txn;
  Status s = store.Begin(true, &txn);
  if (!s.ok()) return s;
  if (!(s = txn.Del(Table::kMeta, kPolicyMetaKey)).ok()) return s;
  return txn.Commit();
}

std::string PolicyValueText(const Policy& p, std::string_view key) {
  auto dur = [](const std::optional<std::int64_t>& d) {
    return d ? DurationText(*d) : std::string("never");
  };
  if (key == "self_enroll") return p.self_enroll ? "yes" : "no";
  if (key == "self_service_scopes") {
    std::string out;
    for (const auto& sc : p.self_service_scopes) {
      if (!out.empty()) out += ' ';
      out += sc;
    }
    return out;
  }
  if (key == "max_active") return std::to_string(p.max_active);
  if (key == "default_expiry") return dur(p.default_expiry);
  if (key == "max_expiry") return dur(p.max_expiry);
  return "";
}

std::string DurationText(std::int64_t seconds) {
  for (const auto& [unit, suffix] :
       {std::pair{std::int64_t{86400}, 'd'}, std::pair{std::int64_t{3600}, 'h'},
        std::pair{std::int64_t{60}, 'm'}})
    if (seconds % unit == 0) return fmt::format("{}{}", seconds / unit, suffix);
  return fmt::format("{}s", seconds);
}

}  // namespace apppass
