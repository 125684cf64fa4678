// Cookies (cookies.h).
#include "cookies.h"

namespace apppass::web {

bool IsCookieName(std::string_view name) {
  if (name.empty()) return false;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
    if (std::string_view("()<>@,;:\\\"/[]?={}").find(ch) != std::string_view::npos) return false;
  }
  return true;
}

bool IsCookieValue(std::string_view value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (!(c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
          (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e))) {
      return false;
    }
  }
  return true;
}

std::string FormatSetCookie(const SetCookie& c, bool insecure_http) {
  std::string_view name = c.name;
  if (insecure_http && name.starts_with(kHostPrefix)) name.remove_prefix(kHostPrefix.size());
  if (!IsCookieName(name) || !IsCookieValue(c.value)) return {};
  std::string out(name);
  out += '=';
  out += c.value;
  if (c.max_age) {
    out += "; Max-Age=";
    out += std::to_string(*c.max_age < 0 ? 0 : *c.max_age);
  }
  out += "; Path=/; HttpOnly";
  if (!insecure_http) out += "; Secure";
  out += "; SameSite=Strict";
  return out;
}

std::map<std::string, std::string> RequestCookies(std::string_view header, bool insecure_http) {
  std::map<std::string, std::string> parsed = ParseCookies(header);
  if (!insecure_http) return parsed;
  std::map<std::string, std::string> out;
  for (auto& [name, value] : parsed) {
    if (std::string_view(name).starts_with(kHostPrefix)) continue;
    out.emplace(std::string(kHostPrefix) + name, value);
    out.emplace(name, std::move(value));
  }
  return out;
}

}  // namespace apppass::web
