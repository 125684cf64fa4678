#include "qr_svg.h"

#include <qrencode.h>
#include <sodium.h>

#include <memory>

#include "html.h"
#include "secret.h"

namespace apppass::web {

std::string QrSvg(std::string_view text, std::string_view label) {
  std::string input(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  WipeString(input);
  if (!qr) return {};
  const int w = qr->width;
  constexpr int kQuiet = 4;  // the quiet zone the standard asks for, in modules
  const int size = w + 2 * kQuiet;
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ";
  out += std::to_string(size) + " " + std::to_string(size);
  out += "\" role=\"img\" aria-label=\"";
  AppendEscaped(label, &out);
  out += "\" shape-rendering=\"crispEdges\"><rect width=\"";
  out += std::to_string(size) + "\" height=\"" + std::to_string(size);
  out += "\" fill=\"#fff\"/><path fill=\"#000\" d=\"";
  // One run of dark modules per row segment: "M x y h n v 1 h -n z".
  for (int y = 0; y < w; ++y) {
    int x = 0;
    while (x < w) {
      if (!(qr->data[y * w + x] & 1)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < w && (qr->data[y * w + x + run] & 1)) ++run;
      out += "M" + std::to_string(x + kQuiet) + " " + std::to_string(y + kQuiet) + "h" +
             std::to_string(run) + "v1h-" + std::to_string(run) + "z";
      x += run;
    }
  }
  out += "\"/></svg>";
  // The modules encode the secret: wipe libqrencode's copy.
  sodium_memzero(qr->data, static_cast<std::size_t>(w) * static_cast<std::size_t>(w));
  return out;
}

}  // namespace apppass::web
