#include "portal_broker.h"

#include <algorithm>
#include <charconv>

namespace apppass::web {

namespace {

using broker::Reply;

std::string Text(const Reply& r, std::string_view key) {
  const std::string* v = r.fields.Get(key);
  return v == nullptr ? std::string() : *v;
}

std::optional<std::string> Optional(const Reply& r, std::string_view key) {
  const std::string* v = r.fields.Get(key);
  return v == nullptr ? std::nullopt : std::optional<std::string>(*v);
}

long Number(const Reply& r, std::string_view key, long absent) {
  const std::string* v = r.fields.Get(key);
  if (v == nullptr || v->empty() || v->size() > 12) return absent;
  long n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  return ec == std::errc() && end == v->data() + v->size() && n >= 0 ? n : absent;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find(' ', pos), text.size());
    if (end > pos) out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// A value the broker may send as a secret key (protocol 1.2: signin, session, secret,
// uri, password, recovery_code) or, from an older peer, as a plain one.
bool TakeSecret(const Reply& r, std::string_view key, SecretBuffer* out) {
  const SecretBuffer* s = r.fields.GetSecret(key);
  const std::string* v = r.fields.Get(key);
  std::string_view value;
  if (s != nullptr) value = s->view();
  else if (v != nullptr) value = *v;
  else return false;
  SecretBuffer b(value.size() + 1);
  if (!b.valid() || !b.assign(value)) return false;
  *out = std::move(b);
  return true;
}

BrokerAnswer Malformed(std::string_view what) {
  return {
      .status = Status::Unavailable("malformed answer from apppassd (" + std::string(what) + ")"),
      .reason = {},
      .unreachable = true};
}

BrokerAnswer ReadSession(const Reply& ok, SessionResult* out) {
  if (!TakeSecret(ok, "session", &out->session) || !IsToken(out->session.view()))
    return Malformed("session");
  out->user = Text(ok, "user");
  out->recovery_codes_left = static_cast<int>(Number(ok, "recovery_codes_left", -1));
  out->recovery_code_used = Text(ok, "recovery_code_used") == "yes";
  return {};
}

BrokerAnswer ReadEnroll(const Reply& ok, EnrollResult* out) {
  if (!TakeSecret(ok, "secret", &out->secret) || !TakeSecret(ok, "uri", &out->uri))
    return Malformed("secret");
  out->issuer = Text(ok, "issuer");
  out->account = Text(ok, "account");
  return {};
}

BrokerAnswer ReadCodes(const std::vector<Reply>& items, std::vector<SecretBuffer>* codes) {
  codes->clear();
  for (const Reply& item : items) {
    SecretBuffer c;
    if (!TakeSecret(item, "recovery_code", &c)) return Malformed("recovery_code");
    codes->push_back(std::move(c));
  }
  return {};
}

}  // namespace

bool IsToken(std::string_view token) {
  if (token.size() != 64) return false;
  for (char c : token)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

PortalBroker::PortalBroker(std::string socket, std::chrono::milliseconds timeout)
    : socket_(std::move(socket)), timeout_(timeout) {}

BrokerAnswer PortalBroker::Send(
    std::string_view kind,
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields,
    broker::CallResult* out) const {
  return Send(kind, fields, timeout_, out);
}

BrokerAnswer PortalBroker::Send(
    std::string_view kind,
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields,
    std::chrono::milliseconds timeout, broker::CallResult* out) const {
  // By name, so this client builds against a protocol header without the 1.2 kinds
  // (an older apppassd refuses them as unknown_request).
  const std::optional<broker::RequestKind> k = broker::RequestKindFromName(kind);
  if (!k)
    return {
        .status = Status::Unavailable("this build does not know the request " + std::string(kind)),
        .reason = {},
        .unreachable = true};
  broker::Request req{.kind = *k, .id = broker::NextRequestId(), .fields = {}};
  for (const auto& [key, value] : fields) {
    Status s = req.fields.Add(key, value);
    if (!s.ok()) return {.status = s, .reason = {}, .unreachable = false};
  }
  Status s = broker::Call(socket_, req, timeout, out);
  if (!s.ok()) return {.status = s, .reason = {}, .unreachable = true};
  BrokerAnswer a;
  a.status = broker::ReplyStatus(out->final);
  if (!a.ok()) a.reason = Text(out->final, "reason");
  return a;
}

BrokerAnswer PortalBroker::SignIn(std::string_view user, const SecretBuffer& password,
                                  std::string_view client, SignInResult* out) const {
  broker::CallResult res;
  BrokerAnswer a =
      Send("SIGNIN", {{"user", user}, {"password", password.view()}, {"client", client}},
           std::max(timeout_, kSigninTimeout), &res);
  if (!a.ok()) return a;
  if (!TakeSecret(res.final, "signin", &out->signin) || !IsToken(out->signin.view()))
    return Malformed("signin");
  out->next = Text(res.final, "next");
  if (out->next != "code" && out->next != "enroll") return Malformed("next");
  return a;
}

BrokerAnswer PortalBroker::SignInCode(std::string_view signin, const SecretBuffer& code,
                                      std::string_view client, SessionResult* out) const {
  broker::CallResult res;
  BrokerAnswer a =
      Send("SIGNIN_CODE", {{"signin", signin}, {"code", code.view()}, {"client", client}}, &res);
  if (!a.ok()) return a;
  return ReadSession(res.final, out);
}

BrokerAnswer PortalBroker::SignInEnroll(std::string_view signin, EnrollResult* out) const {
  broker::CallResult res;
  BrokerAnswer a = Send("SIGNIN_ENROLL", {{"signin", signin}}, &res);
  if (!a.ok()) return a;
  return ReadEnroll(res.final, out);
}

BrokerAnswer PortalBroker::SignInConfirm(std::string_view signin, const SecretBuffer& code,
                                         std::string_view client,
                                         std::vector<SecretBuffer>* recovery_codes,
                                         SessionResult* out) const {
  broker::CallResult res;
  BrokerAnswer a =
      Send("SIGNIN_CONFIRM", {{"signin", signin}, {"code", code.view()}, {"client", client}}, &res);
  if (!a.ok()) return a;
  if (BrokerAnswer c = ReadCodes(res.items, recovery_codes); !c.ok()) return c;
  return ReadSession(res.final, out);
}

BrokerAnswer PortalBroker::Session(std::string_view session, std::string_view client,
                                   SessionInfo* out) const {
  broker::CallResult res;
  BrokerAnswer a = Send("SESSION", {{"session", session}, {"client", client}}, &res);
  if (!a.ok()) return a;
  out->user = Text(res.final, "user");
  out->idle_left = Number(res.final, "idle_left", 0);
  out->expires_in = Number(res.final, "expires_in", 0);
  return a;
}

BrokerAnswer PortalBroker::SignOut(std::string_view session) const {
  broker::CallResult res;
  return Send("SIGNOUT", {{"session", session}}, &res);
}

BrokerAnswer PortalBroker::List(std::string_view session, std::string_view client,
                                PasswordList* out) const {
  broker::CallResult res;
  BrokerAnswer a = Send("LIST", {{"session", session}, {"client", client}}, &res);
  if (!a.ok()) return a;
  out->user = Text(res.final, "user");
  out->items.clear();
  for (const Reply& item : res.items) {
    PasswordItem p{.id = Text(item, "id"),
                   .name = Text(item, "name"),
                   .scopes = Words(Text(item, "scopes")),
                   .all_services = Text(item, "all_services") == "yes",
                   .created = Text(item, "created"),
                   .expires = Optional(item, "expires"),
                   .revoked = Optional(item, "revoked"),
                   .last_used = Optional(item, "last_used"),
                   .last_service = Optional(item, "last_service"),
                   .last_rhost = Optional(item, "last_rhost"),
                   .state = Text(item, "state")};
    if (p.id.empty()) return Malformed("id");
    if (p.state == "revoked" || p.revoked) continue;  // not asked for
    out->items.push_back(std::move(p));
  }
  return a;
}

BrokerAnswer PortalBroker::Create(std::string_view session, std::string_view client,
                                  const CreateRequest& req, CreatedPassword* out) const {
  std::string scopes;
  for (const std::string& s : req.scopes) scopes += (scopes.empty() ? "" : " ") + s;
  broker::CallResult res;
  BrokerAnswer a =
      req.expires.empty()
          ? Send("CREATE",
                 {{"session", session}, {"client", client}, {"name", req.name}, {"scopes", scopes}},
                 &res)
          : Send("CREATE",
                 {{"session", session},
                  {"client", client},
                  {"name", req.name},
                  {"scopes", scopes},
                  {"expires", req.expires}},
                 &res);
  if (!a.ok()) return a;
  if (!TakeSecret(res.final, "password", &out->password)) return Malformed("password");
  out->id = Text(res.final, "id");
  out->name = Text(res.final, "name");
  out->created = Text(res.final, "created");
  out->scopes = Words(Text(res.final, "scopes"));
  out->expires = Optional(res.final, "expires");
  return a;
}

BrokerAnswer PortalBroker::Revoke(std::string_view session, std::string_view client,
                                  std::string_view id) const {
  broker::CallResult res;
  return Send("REVOKE", {{"session", session}, {"client", client}, {"id", id}}, &res);
}

BrokerAnswer PortalBroker::MfaRecovery(std::string_view session, std::string_view client,
                                       const SecretBuffer& code,
                                       std::vector<SecretBuffer>* codes) const {
  broker::CallResult res;
  BrokerAnswer a =
      Send("MFA_RECOVERY", {{"session", session}, {"client", client}, {"code", code.view()}}, &res);
  if (!a.ok()) return a;
  return ReadCodes(res.items, codes);
}

BrokerAnswer PortalBroker::MfaReplace(std::string_view session, std::string_view client,
                                      const SecretBuffer& code, EnrollResult* out) const {
  broker::CallResult res;
  BrokerAnswer a =
      Send("MFA_REPLACE", {{"session", session}, {"client", client}, {"code", code.view()}}, &res);
  if (!a.ok()) return a;
  return ReadEnroll(res.final, out);
}

BrokerAnswer PortalBroker::MfaReplaceConfirm(std::string_view session, std::string_view client,
                                             const SecretBuffer& code) const {
  broker::CallResult res;
  return Send("MFA_REPLACE_CONFIRM",
              {{"session", session}, {"client", client}, {"code", code.view()}}, &res);
}

BrokerAnswer PortalBroker::PolicyShow(std::string_view session, std::string_view client,
                                      PolicyInfo* out) const {
  broker::CallResult res;
  BrokerAnswer a = Send("POLICY_SHOW", {{"session", session}, {"client", client}}, &res);
  if (!a.ok()) return a;
  out->self_enroll = Text(res.final, "self_enroll") == "yes";
  out->scopes = Words(Text(res.final, "self_service_scopes"));
  out->max_active = static_cast<int>(Number(res.final, "max_active", 0));
  out->default_expiry = Text(res.final, "default_expiry");
  out->max_expiry = Text(res.final, "max_expiry");
  return a;
}

BrokerAnswer PortalBroker::MfaStatus(std::string_view session, std::string_view client,
                                     MfaStatusInfo* out) const {
  broker::CallResult res;
  BrokerAnswer a = Send("MFA_STATUS", {{"session", session}, {"client", client}}, &res);
  if (!a.ok()) return a;
  out->user = Text(res.final, "user");
  out->state = Text(res.final, "state");
  out->recovery_codes_left = static_cast<int>(Number(res.final, "recovery_codes_left", -1));
  return a;
}

}  // namespace apppass::web
