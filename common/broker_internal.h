// Private to broker_fields.cc and broker_protocol.cc: the helpers both need. The public
// API is broker_protocol.h; nothing else includes this header.
#pragma once

#include <cstddef>
#include <string_view>

#include "broker_protocol.h"

namespace apppass::broker::internal {

inline constexpr char kHex[] = "0123456789abcdef";

inline Status NoMemory() { return Status::Internal("out of memory in the broker protocol"); }

// A byte written as an escape in a value (EscapeValue): control bytes, DEL and '\\'.
inline bool NeedsEscape(unsigned char c) { return c < 0x20 || c == 0x7f || c == '\\'; }

// Writes the unescaped bytes of `escaped` (REQUIRES: UnescapedSize(escaped) holds) to out.
void UnescapeTo(std::string_view escaped, unsigned char* out);

}  // namespace apppass::broker::internal
