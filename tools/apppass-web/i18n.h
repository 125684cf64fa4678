// The pages' languages (English, Romanian, Italian) and their strings, from the gettext
// catalogue "apppass-web" (po/*.po, compiled to <locale_dir>/<lang>/LC_MESSAGES/
// apppass-web.mo). Every string of messages.h is translated once, at start-up, into a
// table per language, so a request never calls gettext (whose choice of language is
// process-wide: LANGUAGE and the locale) and needs no generated system locale.
// Thread-safety: Load is not thread-safe (call it once, before serving); after it,
// Text and the rest are read-only and thread-safe.
#pragma once

#include <array>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "messages.h"
#include "status.h"

namespace apppass::web {

enum class Lang { kEn, kRo, kIt };
inline constexpr Lang kAllLangs[] = {Lang::kEn, Lang::kRo, Lang::kIt};

// "en", "ro", "it".
std::string_view LangCode(Lang lang);
// The language of a code ("ro"), or false when it is not one of ours.
bool LangFromCode(std::string_view code, Lang* out);
// The codes, the default (en) first, for PickLanguage (http.h).
std::vector<std::string> LangCodes();

class Catalog {
 public:
  // Every language shows the msgids (English) until Load.
  Catalog();
  // Reads the translations of every Msg for ro and it from `locale_dir` (English is the
  // msgids). Unavailable, naming the file, when a catalogue is missing; a msgid without a
  // translation is counted in *missing (may be null) and shown in English.
  // Changes the process's LC_MESSAGES and LANGUAGE while it runs and restores them.
  Status Load(const std::string& locale_dir, std::size_t* missing = nullptr);
  // The string in `lang` (English before Load).
  const std::string& Text(Lang lang, Msg msg) const;

 private:
  std::array<std::array<std::string, kMessageCount>, 3> text_;
};

// `pattern` with each "{}" replaced, in order, by the next of `values`; pattern and values
// are escaped for HTML (html.h). A "{}" without a value is left out.
std::string Fill(std::string_view pattern, std::initializer_list<std::string_view> values);

}  // namespace apppass::web
