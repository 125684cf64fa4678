// The client half of the in-process SASL tests: one complete authentication through
// libsasl2's client API (the stock PLAIN and LOGIN client plugins, fed by callbacks)
// against a ServerConn of sasl_harness.h, in the same process, with the lines logged
// meanwhile. Header-only, like sasl_harness.h.
#pragma once

#include <sasl/sasl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "sasl_harness.h"

namespace sasltest {

struct ClientCreds {
  std::string authcid, password, authzid;
  sasl_secret_t* secret = nullptr;
};

inline int ClientSimple(void* ctx, int id, const char** result, unsigned* len) {
  auto* c = static_cast<ClientCreds*>(ctx);
  const std::string& v = id == SASL_CB_AUTHNAME ? c->authcid : c->authzid;
  *result = v.c_str();
  if (len != nullptr) *len = static_cast<unsigned>(v.size());
  return SASL_OK;
}

inline int ClientSecret(sasl_conn_t*, void* ctx, int id, sasl_secret_t** psecret) {
  if (id != SASL_CB_PASS) return SASL_BADPARAM;
  auto* c = static_cast<ClientCreds*>(ctx);
  std::free(c->secret);
  c->secret =
      static_cast<sasl_secret_t*>(std::calloc(1, sizeof(sasl_secret_t) + c->password.size() + 1));
  if (c->secret == nullptr) return SASL_NOMEM;
  c->secret->len = c->password.size();
  std::memcpy(c->secret->data, c->password.data(), c->password.size());
  *psecret = c->secret;
  return SASL_OK;
}

struct Result {
  int rc = SASL_FAIL;
  std::string username, authuser, errdetail;
  std::vector<std::string> log;  // lines logged during the exchange
};

// One complete authentication, client and server in this process.
inline Result Authenticate(const std::string& mech, const std::string& user,
                           const std::string& password, const std::string& authzid = "",
                           const char* remote = "192.0.2.7;4321", const char* service = "smtp") {
  const std::size_t log_mark = g_log.size();
  ClientCreds creds{user, password, authzid};
  const sasl_callback_t cbs[] = {Callback(SASL_CB_AUTHNAME, &ClientSimple),
                                 Callback(SASL_CB_USER, &ClientSimple),
                                 Callback(SASL_CB_PASS, &ClientSecret),
                                 {SASL_CB_LIST_END, nullptr, nullptr}};
  std::vector<sasl_callback_t> client_cbs(std::begin(cbs), std::end(cbs));
  for (auto& cb : client_cbs)
    if (cb.id != SASL_CB_LIST_END) cb.context = &creds;

  Result r;
  ServerConn server(remote, service);
  sasl_conn_t* client = nullptr;
  if (sasl_client_new(service, "test.example", "192.0.2.7;4321", "127.0.0.1;25", client_cbs.data(),
                      0, &client) != SASL_OK)
    Die("sasl_client_new failed");
  const char* out = nullptr;
  unsigned outlen = 0;
  const char* chosen = nullptr;
  int crc = sasl_client_start(client, mech.c_str(), nullptr, &out, &outlen, &chosen);
  if (crc != SASL_OK && crc != SASL_CONTINUE) {
    r.errdetail = "client start failed: " + CodeName(crc);
  } else {
    int rc = server.Start(
        mech, out != nullptr ? std::optional<std::string>(std::string(out, outlen)) : std::nullopt);
    for (int i = 0; rc == SASL_CONTINUE && i < 5; ++i) {
      const std::string challenge = server.Challenge();
      crc = sasl_client_step(client, challenge.data(), static_cast<unsigned>(challenge.size()),
                             nullptr, &out, &outlen);
      if (crc != SASL_OK && crc != SASL_CONTINUE) break;
      rc = server.Step(out != nullptr ? std::optional<std::string>(std::string(out, outlen))
                                      : std::nullopt);
    }
    r.rc = rc;
    r.errdetail = server.ErrDetail();
    if (rc == SASL_OK) {
      r.username = server.Prop(SASL_USERNAME);
      r.authuser = server.Prop(SASL_AUTHUSER);
    }
  }
  sasl_dispose(&client);
  std::free(creds.secret);
  r.log.assign(g_log.begin() + static_cast<std::ptrdiff_t>(log_mark), g_log.end());
  return r;
}

// Reports the check `name` of one exchange: `why` (empty when the exchange was as expected)
// is replaced by a password leak when one of `secrets` shows in the error detail or a
// log line; on failure the exchange's log lines are printed first.
inline void ReportExchange(const std::string& name, const Result& r,
                           const std::vector<std::string>& secrets, std::string why) {
  for (const auto& s : secrets) {
    if (r.errdetail.find(s) != std::string::npos) why = "a password appears in sasl_errdetail";
    for (const auto& l : r.log)
      if (l.find(s) != std::string::npos) why = "a password appears in the log: " + l;
  }
  if (!why.empty())
    for (const auto& l : r.log) std::printf("#   log: %s\n", l.c_str());
  testlib::Report(why.empty(), name, why);
}

}  // namespace sasltest
