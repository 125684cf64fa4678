#include "qr.h"

#include <qrencode.h>

#include <memory>

namespace apppass::cli {

std::string RenderQr(std::string_view text) {
  const std::string input(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!qr) return {};
  const int w = qr->width, quiet = 2;
  // true = dark module; outside the symbol is the light quiet zone.
  auto dark = [&](int x, int y) {
    x -= quiet;
    y -= quiet;
    return x >= 0 && y >= 0 && x < w && y < w && (qr->data[y * w + x] & 1);
  };
  std::string out;
  for (int y = 0; y < w + 2 * quiet; y += 2) {
    for (int x = 0; x < w + 2 * quiet; ++x) {
      // Light is drawn as a block, so the code reads on dark terminals too.
      const bool top = !dark(x, y), bottom = !dark(x, y + 1);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

}  // namespace apppass::cli
