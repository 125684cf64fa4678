// The portal's client of apppassd (protocol 1.2, docs/design.md "Broker protocol"): one
// typed call per request kind the pages send, each one broker::Call. The portal decides
// nothing: a refusal comes back as the broker's Status and its `reason=` field.
// Tokens (signin=, session=) and every secret answer (app password, TOTP key and URI,
// recovery codes) are held in SecretBuffers.
// Thread-safe: no shared state (each call has its own connection).
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker_client.h"
#include "secret.h"
#include "status.h"

namespace apppass::web {

// How a call ended. status: Ok; the FAIL's code and message (message in English, for
// people, from the broker); Unavailable with `unreachable` when apppassd did not answer.
struct BrokerAnswer {
  Status status;
  std::string reason;  // FAIL's reason=: wrong, throttled, no_mfa, expired (or empty)
  bool unreachable = false;
  bool ok() const { return status.ok(); }
  // The session or pending sign-in is gone: sign in again.
  bool expired() const { return reason == "expired"; }
};

struct SignInResult {
  SecretBuffer signin;  // the pending sign-in's token
  std::string next;     // "code" or "enroll"
};

struct SessionResult {
  SecretBuffer session;
  std::string user;
  int recovery_codes_left = -1;  // -1: not said
  bool recovery_code_used = false;
};

struct EnrollResult {
  SecretBuffer secret;  // base32 TOTP key
  SecretBuffer uri;     // otpauth:// URI (holds the key)
  std::string issuer, account;
};

struct SessionInfo {
  std::string user;
  long idle_left = 0, expires_in = 0;  // seconds
};

struct PasswordItem {
  std::string id, name;
  std::vector<std::string> scopes;
  bool all_services = false;
  std::string created;  // ISO 8601 UTC, as the broker sends it
  std::optional<std::string> expires, revoked, last_used, last_service, last_rhost;
  std::string state;  // active, expired, revoked
};

struct PasswordList {
  std::string user;
  std::vector<PasswordItem> items;
};

struct CreateRequest {
  std::string name;
  std::vector<std::string> scopes;
  std::string expires;  // a duration ("90d"), "never", or empty: the policy's default
};

struct CreatedPassword {
  std::string id, name, created;
  std::vector<std::string> scopes;
  std::optional<std::string> expires;
  SecretBuffer password;
};

struct PolicyInfo {
  bool self_enroll = false;
  std::vector<std::string> scopes;  // self_service_scopes
  int max_active = 0;
  std::string default_expiry, max_expiry;  // durations ("90d") or "never"
};

struct MfaStatusInfo {
  std::string user, state;       // state: none, pending, confirmed
  int recovery_codes_left = -1;  // -1: not said
};

// The deadline of a SIGNIN: the broker bounds its PAM conversation by 10 s, and answers
// after that; the portal waits a little longer so the answer is not lost.
inline constexpr std::chrono::milliseconds kSigninTimeout{13000};

class PortalBroker {
 public:
  explicit PortalBroker(std::string socket,
                        std::chrono::milliseconds timeout = broker::kRequestTimeout);

  // SIGNIN user= password= client=.
  BrokerAnswer SignIn(std::string_view user, const SecretBuffer& password, std::string_view client,
                      SignInResult* out) const;
  // SIGNIN_CODE signin= code= client=.
  BrokerAnswer SignInCode(std::string_view signin, const SecretBuffer& code,
                          std::string_view client, SessionResult* out) const;
  // SIGNIN_ENROLL signin=.
  BrokerAnswer SignInEnroll(std::string_view signin, EnrollResult* out) const;
  // SIGNIN_CONFIRM signin= code= client=: the recovery codes, then the session.
  BrokerAnswer SignInConfirm(std::string_view signin, const SecretBuffer& code,
                             std::string_view client, std::vector<SecretBuffer>* recovery_codes,
                             SessionResult* out) const;
  // SESSION session= client=.
  BrokerAnswer Session(std::string_view session, std::string_view client, SessionInfo* out) const;
  // SIGNOUT session=.
  BrokerAnswer SignOut(std::string_view session) const;
  // The self-service kinds with session= (and client=).
  BrokerAnswer List(std::string_view session, std::string_view client, PasswordList* out) const;
  BrokerAnswer Create(std::string_view session, std::string_view client, const CreateRequest& req,
                      CreatedPassword* out) const;
  BrokerAnswer Revoke(std::string_view session, std::string_view client, std::string_view id) const;
  BrokerAnswer MfaRecovery(std::string_view session, std::string_view client,
                           const SecretBuffer& code, std::vector<SecretBuffer>* codes) const;
  BrokerAnswer MfaReplace(std::string_view session, std::string_view client,
                          const SecretBuffer& code, EnrollResult* out) const;
  BrokerAnswer MfaReplaceConfirm(std::string_view session, std::string_view client,
                                 const SecretBuffer& code) const;
  BrokerAnswer PolicyShow(std::string_view session, std::string_view client, PolicyInfo* out) const;
  BrokerAnswer MfaStatus(std::string_view session, std::string_view client,
                         MfaStatusInfo* out) const;

 private:
  // Sends KIND with `fields` (key, value: broker::Fields keeps the values of secret keys
  // in SecretBuffers only) and reads the answer into *out.
  BrokerAnswer Send(std::string_view kind,
                    std::initializer_list<std::pair<std::string_view, std::string_view>> fields,
                    broker::CallResult* out) const;
  BrokerAnswer Send(std::string_view kind,
                    std::initializer_list<std::pair<std::string_view, std::string_view>> fields,
                    std::chrono::milliseconds timeout, broker::CallResult* out) const;
  std::string socket_;
  std::chrono::milliseconds timeout_;
};

// A token as the broker issues it: 64 lower-case hex digits (cookies are checked with it
// before anything is sent).
bool IsToken(std::string_view token);

}  // namespace apppass::web
