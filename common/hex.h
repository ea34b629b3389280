// Hexadecimal: the one decoder and encoder for byte strings written as hex digits (W3C trace
// and span ids, HBONE's traceparent, OpenSSL keylog secrets, digests). Escapes that embed hex
// in other text (%XX, \xNN) use hexDigitValue and their own format.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace warren {

// 0..15 for a hex digit (either case), -1 otherwise.
int hexDigitValue(char c);

enum class HexDigits {
  kAnyCase,
  kLowerCase,  // W3C trace context §3.2.2 (HEXDIGLC), B3 ids
};

// Exactly out.size() bytes from exactly 2 * out.size() digits; false on any other length or a
// digit `digits` does not accept (out is then partly written).
bool decodeHex(std::string_view hex, std::span<uint8_t> out,
               HexDigits digits = HexDigits::kAnyCase);

// Lower-case digits, two per byte.
std::string encodeHex(std::span<const uint8_t> bytes);

}  // namespace warren
