#include "i18n.h"

#include <libintl.h>
#include <locale.h>
#include <sys/stat.h>

#include <cstdlib>
#include <optional>

#include "html.h"

// glibc's counter of loaded catalogues: bumping it makes gettext look again after
// LANGUAGE changed (the documented way to switch languages in a running program).
extern "C" int _nl_msg_cat_cntr;

namespace apppass::web {

namespace {

constexpr const char* kDomain = "apppass-web";

std::optional<std::string> GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::nullopt : std::optional<std::string>(v);
}

}  // namespace

std::string_view LangCode(Lang lang) {
  switch (lang) {
    case Lang::kRo: return "ro";
    case Lang::kIt: return "it";
    case Lang::kEn: break;
  }
  return "en";
}

bool LangFromCode(std::string_view code, Lang* out) {
  for (Lang l : kAllLangs)
    if (LangCode(l) == code) {
      *out = l;
      return true;
    }
  return false;
}

std::vector<std::string> LangCodes() {
  std::vector<std::string> out;
  for (Lang l : kAllLangs) out.emplace_back(LangCode(l));
  return out;
}

Catalog::Catalog() {
  for (std::size_t i = 0; i < kMessageCount; ++i)
    for (auto& table : text_) table[i] = kMsgIds[i];
}

Status Catalog::Load(const std::string& locale_dir, std::size_t* missing) {
  std::size_t untranslated = 0;
  for (Lang l : {Lang::kRo, Lang::kIt}) {
    const std::string mo =
        locale_dir + "/" + std::string(LangCode(l)) + "/LC_MESSAGES/" + kDomain + ".mo";
    struct stat st {};
    if (stat(mo.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return Status::Unavailable("missing translation catalogue " + mo,
                                 "reinstall apppass-web, or set locale_dir in web.conf");
  }
  const char* old_locale = setlocale(LC_MESSAGES, nullptr);
  const std::string saved_locale = old_locale == nullptr ? "C" : old_locale;
  const std::optional<std::string> saved_language = GetEnv("LANGUAGE");
  // LANGUAGE is honoured only when the locale is not "C"; C.UTF-8 is always there.
  if (setlocale(LC_MESSAGES, "C.UTF-8") == nullptr)
    return Status::Unavailable(
        "the C.UTF-8 locale is not available (needed for the pages' translations)");
  bindtextdomain(kDomain, locale_dir.c_str());
  bind_textdomain_codeset(kDomain, "UTF-8");
  for (Lang l : {Lang::kRo, Lang::kIt}) {
    setenv("LANGUAGE", std::string(LangCode(l)).c_str(), 1);
    ++_nl_msg_cat_cntr;
    auto& table = text_[static_cast<std::size_t>(l)];
    for (std::size_t i = 0; i < kMessageCount; ++i) {
      const char* t = dgettext(kDomain, kMsgIds[i]);
      // gettext hands back the msgid itself when there is no translation (a translation
      // equal to its msgid, "Password" in Italian, is another pointer).
      if (t == kMsgIds[i] || t == nullptr) {
        ++untranslated;
        continue;
      }
      table[i] = t;
    }
  }
  if (saved_language) setenv("LANGUAGE", saved_language->c_str(), 1);
  else unsetenv("LANGUAGE");
  ++_nl_msg_cat_cntr;
  setlocale(LC_MESSAGES, saved_locale.c_str());
  if (missing != nullptr) *missing = untranslated;
  return Status::Ok();
}

const std::string& Catalog::Text(Lang lang, Msg msg) const {
  return text_[static_cast<std::size_t>(lang)][static_cast<std::size_t>(msg)];
}

std::string Fill(std::string_view pattern, std::initializer_list<std::string_view> values) {
  std::string out;
  auto next = values.begin();
  std::size_t pos = 0;
  while (pos < pattern.size()) {
    const std::size_t at = pattern.find("{}", pos);
    if (at == std::string_view::npos) {
      AppendEscaped(pattern.substr(pos), &out);
      break;
    }
    AppendEscaped(pattern.substr(pos, at - pos), &out);
    if (next != values.end()) AppendEscaped(*next++, &out);
    pos = at + 2;
  }
  return out;
}

}  // namespace apppass::web
