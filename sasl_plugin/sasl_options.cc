#include "sasl_options.h"

#include <fmt/format.h>

#include "options.h"
#include "text.h"

namespace apppass {

namespace {

// Cyrus's own boolean spellings (lib/config.c), lowercase only.
bool ParseBool(std::string_view v, bool* out) {
  if (v == "yes" || v == "true" || v == "on" || v == "1") {
    *out = true;
  } else if (v == "no" || v == "false" || v == "off" || v == "0") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

// Validates one value with the PAM module's parser, so both read `db`, `scope` and
// `usage_interval` the same way; the message speaks of the SASL option.
Status ViaModuleOptions(std::string_view key, std::string_view module_key, std::string_view value,
                        std::string_view expected, ModuleOptions* parsed) {
  const std::string arg = fmt::format("{}={}", module_key, value);
  if (ParseModuleOptions({arg}, parsed).ok()) return Status::Ok();
  return Status::InvalidArgument(fmt::format("{}: '{}' is not {}", key, LogSafe(value), expected));
}

}  // namespace

Status ParseSaslOptions(const SaslOptionLookup& lookup, SaslOptions* out) {
  SaslOptions opts;
  const char* db = lookup("apppass_db");
  std::string others;
  for (std::string_view key : kSaslOptionKeys) {
    if (key == "apppass_db") continue;
    const char* v = lookup(key);
    if (v == nullptr) continue;
    if (!others.empty()) others += ", ";
    others += key;
  }
  if (db == nullptr) {
    if (others.empty()) return Status::NotFound("apppass_db is not set");
    return Status::InvalidArgument(fmt::format(
        "apppass_db is not set, but {} is: set apppass_db to the store directory", others));
  }

  ModuleOptions parsed;
  Status s = ViaModuleOptions("apppass_db", "db", db,
                              "an absolute directory, e.g. apppass_db: /var/lib/apppass", &parsed);
  if (!s.ok()) return s;
  opts.db = parsed.db;
  if (const char* v = lookup("apppass_scope")) {
    if (!(s = ViaModuleOptions("apppass_scope", "scope", v,
                               "a service name of a-z 0-9 . _ -, e.g. apppass_scope: smtp",
                               &parsed))
             .ok())
      return s;
    opts.scope = parsed.scope;
  }
  if (const char* v = lookup("apppass_usage_interval")) {
    if (!(s = ViaModuleOptions("apppass_usage_interval", "usage_interval", v,
                               "a number of seconds from 0 to 86400", &parsed))
             .ok())
      return s;
    opts.usage_interval = parsed.usage_interval;
  }
  struct {
    std::string_view key;
    bool* target;
  } const bools[] = {{"apppass_allow_authzid", &opts.allow_authzid},
                     {"apppass_usage", &opts.usage},
                     {"apppass_debug", &opts.debug}};
  for (const auto& b : bools) {
    const char* v = lookup(b.key);
    if (v != nullptr && !ParseBool(v, b.target))
      return Status::InvalidArgument(fmt::format("{}: '{}' is not yes or no", b.key, LogSafe(v)));
  }
  *out = std::move(opts);
  return Status::Ok();
}

std::vector<std::string> ForeignMechanisms(std::string_view mech_list) {
  std::vector<std::string> out;
  // libsasl splits mech_list on white space only (lib/server.c): "PLAIN,LOGIN" is one
  // (unknown) name, and is reported as such.
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t i = 0;
  while (i < mech_list.size()) {
    while (i < mech_list.size() && is_space(mech_list[i])) ++i;
    std::size_t j = i;
    while (j < mech_list.size() && !is_space(mech_list[j])) ++j;
    if (j > i) {
      std::string name(mech_list.substr(i, j - i));
      std::string upper = name;
      for (char& c : upper)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (upper != "PLAIN" && upper != "LOGIN") out.push_back(LogSafe(name, 40));
    }
    i = j;
  }
  return out;
}

}  // namespace apppass
