#include "sasl_options.h"

#include <fmt/format.h>

#include "option_values.h"
#include "store.h"
#include "text.h"

namespace apppass {

namespace {

Status Bad(std::string_view key, std::string_view value, std::string_view expected) {
  return Status::InvalidArgument(fmt::format("{}: '{}' is not {}", key, LogSafe(value), expected));
}

}  // namespace

Status ParseSaslOptions(const SaslOptionLookup& lookup, SaslOptions* out) {
  SaslOptions opts;
  const char* db = lookup("apppass_db");
  const char* broker = lookup("apppass_broker");
  std::string others;
  for (std::string_view key : kSaslOptionKeys) {
    if (key == "apppass_db" || key == "apppass_broker") continue;
    const char* v = lookup(key);
    if (v == nullptr) continue;
    if (!others.empty()) others += ", ";
    others += key;
  }
  if (broker != nullptr && !ParseSocketPath(broker, &opts.broker))
    return Bad("apppass_broker", broker,
               fmt::format("the absolute path of a UNIX socket, e.g. apppass_broker: {}",
                           broker::kDefaultSocket));
  if (db == nullptr && broker != nullptr) {
    db = kDefaultStoreDir;  // the broker names the service; the store is the default one
  } else if (db == nullptr) {
    if (others.empty()) return Status::NotFound("apppass_db is not set");
    return Status::InvalidArgument(fmt::format(
        "apppass_db is not set, but {} is: set apppass_db to the store directory", others));
  }

  if (!ParseStoreDir(db, &opts.db))
    return Bad("apppass_db", db,
               fmt::format("an absolute directory, e.g. apppass_db: {}", kDefaultStoreDir));
  if (const char* v = lookup("apppass_scope"); v != nullptr && !ParseScope(v, &opts.scope))
    return Bad("apppass_scope", v, "a service name of a-z 0-9 . _ -, e.g. apppass_scope: smtp");
  if (const char* v = lookup("apppass_usage_interval");
      v != nullptr && !ParseUsageInterval(v, &opts.usage_interval))
    return Bad("apppass_usage_interval", v,
               fmt::format("a number of seconds from 0 to {}", kMaxUsageInterval));
  struct {
    std::string_view key;
    bool* target;
  } const bools[] = {{"apppass_allow_authzid", &opts.allow_authzid},
                     {"apppass_usage", &opts.usage},
                     {"apppass_debug", &opts.debug}};
  for (const auto& b : bools) {
    const char* v = lookup(b.key);
    if (v != nullptr && !ParseYesNo(v, b.target)) return Bad(b.key, v, "yes or no");
  }
  // Exact lowercase words, like the yes/no spellings: a misspelt value fails closed.
  if (const char* v = lookup("apppass_unenrolled"); v != nullptr) {
    const std::string_view value(v);
    if (value != "deny" && value != "pwcheck")
      return Bad("apppass_unenrolled", v, "deny or pwcheck");
    opts.pwcheck = value == "pwcheck";
  }
  if (const char* v = lookup("apppass_account"); v != nullptr) {
    const std::string_view value(v);
    if (value != "nss" && value != "none") return Bad("apppass_account", v, "nss or none");
    opts.account_nss = value == "nss";
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
