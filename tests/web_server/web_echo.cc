// A test server: apppass-web's HTTP layer (tools/apppass-web/server.h) with a handler that
// echoes the request it was given, one "kind:name=value" line each, so that
// test_server.py can see what the pages would see. Query parameters steer the response:
//   set=NAME=VALUE  a cookie        del=NAME   a cookie deleted (Max-Age=0)
//   cache=1         cacheable       secret=1   secret_body
//   throw=1         the handler throws (the server answers 500)
//   override=1      the handler tries to replace Content-Security-Policy and Cache-Control
//   status=N        that status
// Usage: web_echo [--insecure] [--timeout S] [--trusted IP/CIDR]... ; prints the port.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "server.h"

using namespace apppass::web;

namespace {

HttpResponse Echo(const HttpRequest& req) {
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  std::string& b = r.body;
  b += "method=" + req.method + "\npath=" + req.path + "\nclient=" + req.client + "\n";
  for (const FormField& f : req.query) b += "query:" + f.name + "=" + f.value + "\n";
  for (const FormField& f : req.form) {
    if (f.is_secret) {
      b += "secret:" + f.name + "=" + std::to_string(f.secret.size()) + " bytes\n";
    } else {
      b += "form:" + f.name + "=" + f.value + "\n";
    }
  }
  for (const auto& [name, value] : req.cookies) b += "cookie:" + name + "=" + value + "\n";
  for (const FormField& f : req.query) {
    if (f.name == "set") {
      const std::size_t eq = f.value.find('=');
      r.cookies.push_back({f.value.substr(0, eq),
                           eq == std::string::npos ? "" : f.value.substr(eq + 1), std::nullopt});
    } else if (f.name == "del") {
      r.cookies.push_back({f.value, "", 0});
    } else if (f.name == "cache") {
      r.cacheable = true;
    } else if (f.name == "secret") {
      r.secret_body = true;
    } else if (f.name == "throw") {
      throw std::runtime_error("asked to");
    } else if (f.name == "override") {
      r.headers.emplace_back("Content-Security-Policy", "default-src *");
      r.headers.emplace_back("cache-control", "public");
      r.headers.emplace_back("X-Echo", "yes");
    } else if (f.name == "status") {
      r.status = std::atoi(f.value.c_str());
    }
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions o;
  o.listen = *ParseEndpoint("127.0.0.1:0");
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--insecure") {
      o.insecure_http = true;
    } else if (a == "--timeout" && i + 1 < argc) {
      o.timeout = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (a == "--trusted" && i + 1 < argc) {
      o.trusted_proxies.push_back(argv[++i]);
    } else {
      std::fprintf(stderr, "web_echo: bad argument %s\n", a.c_str());
      return 2;
    }
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  Server server;
  const apppass::Status s = server.Start(std::move(o), Echo);
  if (!s.ok()) {
    std::fprintf(stderr, "web_echo: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%u\n", server.port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  server.Stop();
  return 0;
}
