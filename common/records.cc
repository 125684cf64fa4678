#include "records.h"

#include <climits>

#include <nlohmann/json.hpp>

#include "text.h"

namespace apppass {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxRecordBytes = 64 * 1024;

// Field readers: false when the field is missing or of the wrong type.
bool GetString(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  *out = it->get_ref<const std::string&>();
  return true;
}

bool GetInt(const json& j, const char* key, std::int64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return false;
  *out = it->get<std::int64_t>();
  return true;
}

// A missing or null field is nullopt; a present one must be an integer.
bool GetOptInt(const json& j, const char* key, std::optional<std::int64_t>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    out->reset();
    return true;
  }
  if (!it->is_number_integer()) return false;
  *out = it->get<std::int64_t>();
  return true;
}

json OptInt(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

// nlohmann::json's destructor moves the children of a non-empty object or array into a
// std::vector it allocates: out of memory, a destructor throws and std::terminate ends the
// host process (Dovecot's auth worker, smtpd). Emptying the containers bottom-up first
// leaves it nothing to allocate. Deeper nesting than records have is left as it is.
void Dismantle(json& v, int depth = 0) noexcept {
  if (depth > 16) return;
  if (v.is_array()) {
    for (json& e : v.get_ref<json::array_t&>()) Dismantle(e, depth + 1);
    v.get_ref<json::array_t&>().clear();
  } else if (v.is_object()) {
    for (auto& kv : v.get_ref<json::object_t&>()) Dismantle(kv.second, depth + 1);
    v.get_ref<json::object_t&>().clear();
  }
}

// Dismantles a json when it goes out of scope, on every path (declare it after the json).
class DismantleOnExit {
 public:
  explicit DismantleOnExit(json& j) : j_(j) {}
  ~DismantleOnExit() { Dismantle(j_); }
  DismantleOnExit(const DismantleOnExit&) = delete;
  DismantleOnExit& operator=(const DismantleOnExit&) = delete;

 private:
  json& j_;
};

// An enrollment's source: 1..32 of [a-z0-9-].
bool IsSourceName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// Parses `data` as a JSON object of a known version (1..max_version).
Status ParseVersioned(std::string_view data, int max_version, const char* what, json* j,
                      int* version) {
  if (data.size() > kMaxRecordBytes)
    return Status::Unavailable(std::string("corrupt ") + what + " record: too large");
  *j = json::parse(data.begin(), data.end(), nullptr, /*allow_exceptions=*/false);
  if (j->is_discarded() || !j->is_object())
    return Status::Unavailable(std::string("corrupt ") + what + " record: not a JSON object");
  std::int64_t v = 0;
  if (!GetInt(*j, "v", &v) || v < 1)
    return Status::Unavailable(std::string("corrupt ") + what + " record: no format version");
  if (v > max_version)
    return Status::Unavailable(std::string(what) + " record has format version " +
                               std::to_string(v) + ", newer than this apppass understands (" +
                               std::to_string(max_version) + "); upgrade apppass");
  *version = static_cast<int>(v);
  return Status::Ok();
}

Status Corrupt(const char* what, const char* field) {
  return Status::Unavailable(std::string("corrupt ") + what + " record: bad field '" + field + "'");
}

}  // namespace

std::string_view MfaStateName(MfaState s) {
  switch (s) {
    case MfaState::kPending: return "pending";
    case MfaState::kConfirmed: return "confirmed";
    case MfaState::kNone: break;
  }
  return "none";
}

std::string EncodeCredential(const Credential& c) {
  json j = {{"v", kCredentialVersion},
            {"id", c.id},
            {"user", c.user},
            {"name", c.name},
            {"scopes", c.scopes},
            {"created", c.created},
            {"expires", OptInt(c.expires)},
            {"revoked", OptInt(c.revoked)}};
  DismantleOnExit dismantle(j);
  if (c.all_services) j["all_services"] = true;
  return j.dump();
}

Status DecodeCredential(std::string_view data, Credential* out) try {
  json j;
  DismantleOnExit dismantle(j);
  Status s = ParseVersioned(data, kCredentialVersion, "credential", &j, &out->version);
  if (!s.ok()) return s;
  if (!GetString(j, "id", &out->id) || out->id.empty()) return Corrupt("credential", "id");
  if (!GetString(j, "user", &out->user) || !ValidateUserName(out->user).ok())
    return Corrupt("credential", "user");
  if (!GetString(j, "name", &out->name)) return Corrupt("credential", "name");
  if (!GetInt(j, "created", &out->created)) return Corrupt("credential", "created");
  if (!GetOptInt(j, "expires", &out->expires)) return Corrupt("credential", "expires");
  if (!GetOptInt(j, "revoked", &out->revoked)) return Corrupt("credential", "revoked");
  out->scopes.clear();
  auto it = j.find("scopes");
  if (it == j.end() || !it->is_array() || it->size() > kMaxScopes)
    return Corrupt("credential", "scopes");
  for (const auto& e : *it) {
    if (!e.is_string()) return Corrupt("credential", "scopes");
    out->scopes.push_back(e.get<std::string>());
  }
  // Optional (added within version 1): true only with no scopes.
  out->all_services = false;
  if (auto a = j.find("all_services"); a != j.end()) {
    if (!a->is_boolean() || (a->get<bool>() && !out->scopes.empty()))
      return Corrupt("credential", "all_services");
    out->all_services = a->get<bool>();
  }
  return Status::Ok();
} catch (...) {
  return Status::Unavailable("corrupt credential record");
}

std::string EncodeUser(const UserRecord& u) {
  json j = {{"v", kUserVersion},
            {"user", u.user},
            {"mfa", std::string(MfaStateName(u.mfa))},
            {"secret", u.sealed_secret},
            {"enrolled", u.enrolled},
            {"confirmed", OptInt(u.confirmed)},
            {"last_step", u.last_step},
            {"source", u.source}};
  DismantleOnExit dismantle(j);
  if (u.code_failures != 0 || u.code_window_start != 0) {
    j["code_failures"] = u.code_failures;
    j["code_window_start"] = u.code_window_start;
  }
  if (!u.recovery.empty()) j["recovery"] = u.recovery;
  if (!u.pending_secret.empty()) {
    j["pending_secret"] = u.pending_secret;
    j["pending_since"] = u.pending_since;
  }
  return j.dump();
}

Status DecodeUser(std::string_view data, UserRecord* out) try {
  json j;
  DismantleOnExit dismantle(j);
  Status s = ParseVersioned(data, kUserVersion, "user", &j, &out->version);
  if (!s.ok()) return s;
  std::string state;
  if (!GetString(j, "user", &out->user)) return Corrupt("user", "user");
  if (!GetString(j, "mfa", &state)) return Corrupt("user", "mfa");
  if (state == "pending") out->mfa = MfaState::kPending;
  else if (state == "confirmed") out->mfa = MfaState::kConfirmed;
  else if (state == "none") out->mfa = MfaState::kNone;
  else return Corrupt("user", "mfa");
  if (!GetString(j, "secret", &out->sealed_secret)) return Corrupt("user", "secret");
  if (!GetInt(j, "enrolled", &out->enrolled)) return Corrupt("user", "enrolled");
  if (!GetOptInt(j, "confirmed", &out->confirmed)) return Corrupt("user", "confirmed");
  if (!GetInt(j, "last_step", &out->last_step)) return Corrupt("user", "last_step");
  // Optional (added within version 1): a record without it was made by 'mfa enroll'.
  if (j.contains("source")) {
    if (!GetString(j, "source", &out->source) || !IsSourceName(out->source))
      return Corrupt("user", "source");
  } else {
    out->source = std::string(kSourceApppass);
  }
  // Optional (added within version 1): a record without them has no failures counted.
  std::int64_t failures = 0;
  if (j.contains("code_failures") &&
      (!GetInt(j, "code_failures", &failures) || failures < 0 || failures > INT_MAX))
    return Corrupt("user", "code_failures");
  out->code_failures = static_cast<int>(failures);
  out->code_window_start = 0;
  if (j.contains("code_window_start") &&
      (!GetInt(j, "code_window_start", &out->code_window_start) || out->code_window_start < 0))
    return Corrupt("user", "code_window_start");
  // Optional (added within version 1): hex keyed hashes of unused recovery codes.
  out->recovery.clear();
  if (auto r = j.find("recovery"); r != j.end()) {
    if (!r->is_array() || r->size() > kMaxRecoveryCodes) return Corrupt("user", "recovery");
    for (const auto& e : *r) {
      // 64 lowercase hex digits: a BLAKE2b-256 hash as sodium_bin2hex writes it.
      if (!e.is_string() || e.get_ref<const std::string&>().size() != 64 ||
          e.get_ref<const std::string&>().find_first_not_of("0123456789abcdef") !=
              std::string::npos)
        return Corrupt("user", "recovery");
      out->recovery.push_back(e.get<std::string>());
    }
  }
  // Optional (added within version 1, issue 13): a replacement secret awaiting its code.
  out->pending_secret.clear();
  out->pending_since = 0;
  if (j.contains("pending_secret")) {
    if (!GetString(j, "pending_secret", &out->pending_secret) || out->pending_secret.empty())
      return Corrupt("user", "pending_secret");
    if (!GetInt(j, "pending_since", &out->pending_since) || out->pending_since < 0)
      return Corrupt("user", "pending_since");
  } else if (j.contains("pending_since")) {
    return Corrupt("user", "pending_since");
  }
  return Status::Ok();
} catch (...) {
  return Status::Unavailable("corrupt user record");
}

std::string EncodeUsage(const Usage& u) {
  json j = {{"v", kUsageVersion}, {"time", u.time}, {"service", u.service}, {"rhost", u.rhost}};
  DismantleOnExit dismantle(j);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status DecodeUsage(std::string_view data, Usage* out) try {
  json j;
  DismantleOnExit dismantle(j);
  Status s = ParseVersioned(data, kUsageVersion, "usage", &j, &out->version);
  if (!s.ok()) return s;
  if (!GetInt(j, "time", &out->time)) return Corrupt("usage", "time");
  if (!GetString(j, "service", &out->service)) return Corrupt("usage", "service");
  if (!GetString(j, "rhost", &out->rhost)) return Corrupt("usage", "rhost");
  return Status::Ok();
} catch (...) {
  return Status::Unavailable("corrupt usage record");
}

bool IsActive(const Credential& c, std::int64_t now) {
  return !c.revoked && !(c.expires && *c.expires <= now);
}

}  // namespace apppass
