// Portal: the self-service pages (issue 13) as one function from a request to a response.
// The router (portal.cc) maps the URL contract of docs/design.md ("apppass-web") to the
// pages (pages_*.cc); every page asks the broker (portal_broker.h) and decides nothing
// itself about who may do what. Holds no privilege and no store.
// Thread-safe: Handle is called from every server thread at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http.h"
#include "status.h"

namespace apppass::web {

struct PortalConfig {
  std::string broker_socket;
  std::string share_dir = "/usr/share/apppass-web";
  std::string locale_dir = "/usr/share/locale";
  std::string imap_host, smtp_host;  // shown on the created page; empty: not shown
  int imap_port = 993;
  int smtp_port = 587;
  bool insecure_http = false;  // cookies without Secure / __Host- (loopback tests only)
};

class Portal {
 public:
  explicit Portal(PortalConfig config);
  ~Portal();
  Portal(const Portal&) = delete;
  Portal& operator=(const Portal&) = delete;
  // Loads what the pages need (translations, assets). Unavailable with a message when
  // something is missing; the server does not start then.
  Status Init();
  // Answers one request. Never throws: an unexpected error is a 500 page.
  HttpResponse Handle(const HttpRequest& req) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apppass::web
