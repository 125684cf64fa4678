// The pure parsing of http.h: forms, query strings, cookies, Accept-Language and the
// client address behind trusted proxies. Bounded by their inputs (the server bounds
// those); anything malformed fails closed.
#include "http.h"

#include <algorithm>
#include <cctype>

#include "address.h"
#include "cookies.h"
#include "text.h"

namespace apppass::web {

namespace {

constexpr std::size_t kMaxCookies = 64;
constexpr std::size_t kMaxLanguages = 32;
constexpr std::size_t kMaxForwarded = 64;  // X-Forwarded-For entries

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes one x-www-form-urlencoded name or value into `out` (std::string or
// SecretBuffer, through `put`). False on a bad %-escape or a NUL byte.
template <typename Put>
bool DecodeComponent(std::string_view in, Put put) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return false;
    if (!put(c)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A q-value: "1", "1.000", "0", "0.5", "0.123" (RFC 9110 qvalue), in thousandths.
std::optional<int> ParseQ(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  if (s[0] != '0' && s[0] != '1') return std::nullopt;
  int whole = s[0] - '0';
  int thousandths = 0;
  if (s.size() > 1) {
    if (s[1] != '.') return std::nullopt;
    std::string_view frac = s.substr(2);
    int scale = 100;
    for (char c : frac) {
      if (c < '0' || c > '9') return std::nullopt;
      thousandths += (c - '0') * scale;
      scale /= 10;
    }
  }
  if (whole == 1 && thousandths != 0) return std::nullopt;
  return whole * 1000 + thousandths;
}

template <typename Fn>
void ForEachPart(std::string_view s, char sep, Fn fn) {
  for (;;) {
    const std::size_t i = s.find(sep);
    if (!fn(s.substr(0, i))) return;
    if (i == std::string_view::npos) return;
    s.remove_prefix(i + 1);
  }
}

const FormField* FindField(const std::vector<FormField>& fields, std::string_view name,
                           bool secret) {
  for (const FormField& f : fields) {
    if (f.name == name && f.is_secret == secret) return &f;
  }
  return nullptr;
}

}  // namespace

bool IsSecretField(std::string_view name) noexcept { return name == "password" || name == "code"; }

bool ParseForm(std::string_view body, std::size_t max_fields, std::vector<FormField>* out) {
  out->clear();
  bool ok = true;
  ForEachPart(body, '&', [&](std::string_view part) {
    if (part.empty()) return true;  // "a=1&&b=2": browsers never send it; harmless
    if (out->size() >= max_fields) return ok = false;
    const std::size_t eq = part.find('=');
    const std::string_view raw_name = part.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    FormField field;
    if (!DecodeComponent(raw_name,
                         [&](char c) {
                           field.name.push_back(c);
                           return true;
                         }) ||
        field.name.empty() || !IsValidUtf8(field.name)) {
      return ok = false;
    }
    field.is_secret = IsSecretField(field.name);
    if (field.is_secret) {
      // Decoded straight into locked memory: no std::string ever holds the value.
      field.secret = SecretBuffer(std::max<std::size_t>(raw_value.size(), 1));
      if (!field.secret.valid() ||
          !DecodeComponent(
              raw_value,
              [&](char c) { return field.secret.push_back(static_cast<unsigned char>(c)); }) ||
          !IsValidUtf8(field.secret.view())) {
        return ok = false;
      }
    } else if (!DecodeComponent(raw_value,
                                [&](char c) {
                                  field.value.push_back(c);
                                  return true;
                                }) ||
               !IsValidUtf8(field.value)) {
      return ok = false;
    }
    out->push_back(std::move(field));
    return true;
  });
  if (!ok) out->clear();
  return ok;
}

std::map<std::string, std::string> ParseCookies(std::string_view header) {
  std::map<std::string, std::string> cookies;
  std::size_t seen = 0;
  ForEachPart(header, ';', [&](std::string_view pair) {
    if (++seen > kMaxCookies) return false;
    pair = Trim(pair);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return true;
    const std::string_view name = pair.substr(0, eq);
    std::string_view value = pair.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (!IsCookieName(name) || !IsCookieValue(value)) return true;
    cookies.emplace(std::string(name), std::string(value));  // the first one wins
    return true;
  });
  return cookies;
}

std::string PickLanguage(std::string_view accept_language,
                         const std::vector<std::string>& supported) {
  if (supported.empty()) return {};
  const std::string* best = &supported.front();
  int best_q = 0;
  std::size_t seen = 0;
  ForEachPart(accept_language, ',', [&](std::string_view item) {
    if (++seen > kMaxLanguages) return false;
    const std::size_t semi = item.find(';');
    const std::string_view tag = Trim(item.substr(0, semi));
    int q = 1000;
    if (semi != std::string_view::npos) {
      const std::string_view param = Trim(item.substr(semi + 1));
      if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') {
        return true;  // an unknown parameter: skip the item
      }
      const std::optional<int> parsed = ParseQ(param.substr(2));
      if (!parsed) return true;
      q = *parsed;
    }
    if (q <= best_q || tag.empty()) return true;  // ties: the earlier item wins
    const std::string* match = nullptr;
    if (tag == "*") {
      match = &supported.front();
    } else {
      const std::string_view primary = tag.substr(0, tag.find('-'));
      for (const std::string& s : supported) {
        if (EqualsNoCase(tag, s) || EqualsNoCase(primary, s)) {
          match = &s;
          break;
        }
      }
    }
    if (match != nullptr) {
      best = match;
      best_q = q;
    }
    return true;
  });
  return *best;
}

std::string ClientAddress(std::string_view peer, const std::string* x_forwarded_for,
                          const std::vector<std::string>& trusted) {
  std::vector<IpRange> ranges;
  for (const std::string& t : trusted) {
    if (std::optional<IpRange> r = ParseRange(t)) ranges.push_back(*r);
  }
  const auto is_trusted = [&](const IpAddress& ip) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const IpRange& r) { return InRange(ip, r); });
  };
  const std::optional<IpAddress> peer_ip = ParseIp(peer);
  if (!peer_ip) return std::string(peer);
  const std::string own = FormatIp(*peer_ip);
  if (!is_trusted(*peer_ip) || x_forwarded_for == nullptr) return own;

  std::vector<IpAddress> hops;
  bool ok = true;
  ForEachPart(*x_forwarded_for, ',', [&](std::string_view entry) {
    std::optional<IpAddress> ip;
    if (hops.size() >= kMaxForwarded || !(ip = ParseIp(Trim(entry)))) return ok = false;
    hops.push_back(*ip);
    return true;
  });
  if (!ok || hops.empty()) return own;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!is_trusted(*it)) return FormatIp(*it);
  }
  return FormatIp(hops.front());
}

// --- HttpRequest accessors ---

const std::string* HttpRequest::Query(std::string_view name) const {
  const FormField* f = FindField(query, name, false);
  return f != nullptr ? &f->value : nullptr;
}

const std::string* HttpRequest::Form(std::string_view name) const {
  const FormField* f = FindField(form, name, false);
  return f != nullptr ? &f->value : nullptr;
}

std::vector<std::string> HttpRequest::FormAll(std::string_view name) const {
  std::vector<std::string> values;
  for (const FormField& f : form) {
    if (f.name == name && !f.is_secret) values.push_back(f.value);
  }
  return values;
}

const SecretBuffer* HttpRequest::FormSecret(std::string_view name) const {
  const FormField* f = FindField(form, name, true);
  return f != nullptr ? &f->secret : nullptr;
}

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  const auto it = headers.find(std::string(lower_name));
  return it != headers.end() ? &it->second : nullptr;
}

const std::string* HttpRequest::Cookie(std::string_view name) const {
  const auto it = cookies.find(std::string(name));
  return it != cookies.end() ? &it->second : nullptr;
}

}  // namespace apppass::web
