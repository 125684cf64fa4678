// libFuzzer target: the parsing apppass-web does itself on what any browser or attacker
// sends (tools/apppass-web/http.h, cookies.h, address.h). The first byte of the input
// chooses the part ('0'..'4'); the rest is its input. Each runs twice and must answer the
// same both times, and is compared with an independent statement of its rule:
//   '0'  ParseForm (a form body or query string, at most 8 fields): accepted exactly when
//        a separate decoder accepts ('+' space, %HH, no NUL, valid UTF-8, names not
//        empty, at most 8 fields), with the same names and values; the secret fields
//        (password, code) only in SecretBuffers, their `value` empty
//   '1'  ParseCookies and RequestCookies (both modes): at most 64 pairs looked at; every
//        cookie returned is a valid name and value found in the header; insecure mode
//        shows no "__Host-" cookie the client sent
//   '2'  PickLanguage among en, ro, it: always one of them
//   '3'  ClientAddress: input "peer\nxff\ntrusted trusted..."; the answer is the peer
//        (canonical) or one of the X-Forwarded-For entries (canonical), and the peer
//        whenever the peer is not trusted
//   '4'  FormatSetCookie: empty exactly when the name or value is not allowed; otherwise
//        the flags are all there and no ';' comes from the value
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address.h"
#include "cookies.h"
#include "fuzz_util.h"
#include "http.h"
#include "text.h"

namespace {

namespace web = apppass::web;
using fuzzutil::Fail;
using fuzzutil::Show;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

// The form rule, stated apart from http.cc.
std::optional<std::string> Decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
        return std::nullopt;
      }
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  if (out.find('\0') != std::string::npos || !apppass::IsValidUtf8(out)) return std::nullopt;
  return out;
}

void CheckForm(std::string_view in) {
  constexpr std::size_t kMax = 8;
  std::vector<std::pair<std::string, std::string>> model;
  bool model_ok = true;
  for (std::string_view part : Split(in, '&')) {
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    auto name = Decode(part.substr(0, eq));
    auto value = Decode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    if (model.size() >= kMax || !name || name->empty() || !value) {
      model_ok = false;
      break;
    }
    model.emplace_back(*name, *value);
  }
  std::vector<web::FormField> a, b;
  const bool ok = web::ParseForm(in, kMax, &a);
  if (ok != web::ParseForm(in, kMax, &b)) Fail("ParseForm answered twice differently");
  if (ok != model_ok)
    Fail("ParseForm " + std::string(ok ? "accepted" : "refused") + " " + Show(in));
  if (!ok) {
    if (!a.empty()) Fail("ParseForm refused but left fields");
    return;
  }
  if (a.size() != model.size()) Fail("ParseForm field count");
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool secret = model[i].first == "password" || model[i].first == "code";
    if (a[i].name != model[i].first || a[i].is_secret != secret) Fail("ParseForm name");
    if (secret) {
      if (!a[i].value.empty() || a[i].secret.view() != model[i].second) Fail("secret field");
    } else if (a[i].value != model[i].second) {
      Fail("ParseForm value of " + Show(a[i].name));
    }
  }
}

void CheckCookies(std::string_view in) {
  const auto parsed = web::ParseCookies(in);
  if (parsed != web::ParseCookies(in)) Fail("ParseCookies twice");
  if (parsed.size() > 64) Fail("more than 64 cookies");
  for (const auto& [name, value] : parsed) {
    if (!web::IsCookieName(name) || !web::IsCookieValue(value)) Fail("invalid cookie kept");
    if (in.find(name) == std::string_view::npos || in.find(value) == std::string_view::npos) {
      Fail("cookie not from the header");
    }
  }
  if (web::RequestCookies(in, false) != parsed) Fail("RequestCookies (secure) differs");
  for (const auto& [name, value] : web::RequestCookies(in, true)) {
    std::string_view bare = name;
    if (bare.starts_with(web::kHostPrefix)) bare.remove_prefix(web::kHostPrefix.size());
    const auto it = parsed.find(std::string(bare));
    if (it == parsed.end() || it->second != value || bare.starts_with(web::kHostPrefix)) {
      Fail("insecure cookie " + Show(name) + " not from a plain client cookie");
    }
  }
}

void CheckLanguage(std::string_view in) {
  static const std::vector<std::string> langs = {"en", "ro", "it"};
  const std::string a = web::PickLanguage(in, langs);
  if (a != web::PickLanguage(in, langs)) Fail("PickLanguage twice");
  if (std::find(langs.begin(), langs.end(), a) == langs.end()) Fail("PickLanguage " + Show(a));
}

void CheckClient(std::string_view in) {
  const std::vector<std::string_view> parts = Split(in, '\n');
  const std::string_view peer = parts[0];
  const std::optional<std::string> xff =
      parts.size() > 1 ? std::optional<std::string>(std::string(parts[1])) : std::nullopt;
  std::vector<std::string> trusted;
  if (parts.size() > 2) {
    for (std::string_view t : Split(parts[2], ' ')) trusted.emplace_back(t);
  }
  const std::string got = web::ClientAddress(peer, xff ? &*xff : nullptr, trusted);
  if (got != web::ClientAddress(peer, xff ? &*xff : nullptr, trusted)) Fail("ClientAddress twice");
  const std::optional<web::IpAddress> peer_ip = web::ParseIp(peer);
  if (!peer_ip) {
    if (got != peer) Fail("ClientAddress of a malformed peer");
    return;
  }
  const std::string own = web::FormatIp(*peer_ip);
  bool peer_trusted = false;
  for (const std::string& t : trusted) {
    if (auto r = web::ParseRange(t)) peer_trusted = peer_trusted || web::InRange(*peer_ip, *r);
  }
  if (!peer_trusted || !xff) {
    if (got != own) Fail("ClientAddress believed a header from an untrusted peer");
    return;
  }
  if (got == own) return;
  for (std::string_view e : Split(*xff, ',')) {
    while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) e.remove_prefix(1);
    while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) e.remove_suffix(1);
    if (auto ip = web::ParseIp(e); ip && web::FormatIp(*ip) == got) return;
  }
  Fail("ClientAddress " + Show(got) + " is neither the peer nor a hop");
}

void CheckSetCookie(std::string_view in) {
  const std::size_t nl = in.find('\n');
  web::SetCookie c{std::string(in.substr(0, nl)),
                   nl == std::string_view::npos ? "" : std::string(in.substr(nl + 1)), 60};
  for (bool insecure : {false, true}) {
    const std::string line = web::FormatSetCookie(c, insecure);
    std::string_view name = c.name;
    if (insecure && name.starts_with(web::kHostPrefix)) name.remove_prefix(web::kHostPrefix.size());
    const bool allowed = web::IsCookieName(name) && web::IsCookieValue(c.value);
    if (line.empty() == allowed) Fail("FormatSetCookie allowed " + Show(c.name));
    if (!allowed) continue;
    const std::string want = std::string(name) + "=" + c.value + "; Max-Age=60; Path=/; HttpOnly" +
                             (insecure ? "" : "; Secure") + "; SameSite=Strict";
    if (line != want) Fail("FormatSetCookie " + Show(line));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case '0': CheckForm(in); break;
    case '1': CheckCookies(in); break;
    case '2': CheckLanguage(in); break;
    case '3': CheckClient(in); break;
    case '4': CheckSetCookie(in); break;
    default: break;
  }
  return 0;
}
