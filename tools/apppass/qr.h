// Renders a QR code (libqrencode) for a terminal, two modules per character cell.
#pragma once

#include <string>
#include <string_view>

namespace apppass::cli {

// The QR code of `text` as lines of Unicode half blocks with a quiet zone, dark on
// light. Empty when encoding fails.
std::string RenderQr(std::string_view text);

}  // namespace apppass::cli
