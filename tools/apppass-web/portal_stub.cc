// TEMPORARY STAND-IN for portal.cc (helper C's router and pages): delete this file and
// its line in CMakeLists.txt when portal.cc lands. It answers 200 "apppass-web" for
// GET /healthz and 404 for everything else, so that the server and its tests link.
#include "portal.h"

namespace apppass::web {

struct Portal::Impl {
  PortalConfig config;
};

Portal::Portal(PortalConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

Portal::~Portal() = default;

Status Portal::Init() { return Status::Ok(); }

HttpResponse Portal::Handle(const HttpRequest& req) noexcept {
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  if (req.path == "/healthz") {
    r.body = "apppass-web\n";
  } else {
    r.status = 404;
    r.body = "not found\n";
  }
  return r;
}

}  // namespace apppass::web
