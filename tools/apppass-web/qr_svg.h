// A QR code (libqrencode) as an inline SVG element: the dark modules as one <path> of
// unit squares on a light background with a quiet zone, scaled by CSS. For the TOTP
// enrollment pages (the otpauth:// URI holds the secret: the result is a secret too).
// Thread-safety: pure, thread-safe (libqrencode's encoder is reentrant).
#pragma once

#include <string>
#include <string_view>

namespace apppass::web {

// <svg xmlns=... viewBox="0 0 N N" role="img" aria-label="LABEL" ...><rect .../><path
// d="M..h1v1h-1z..."/></svg>, or empty when the text cannot be encoded. `label` is escaped.
std::string QrSvg(std::string_view text, std::string_view label);

}  // namespace apppass::web
