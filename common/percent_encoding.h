// Percent-encoding (RFC 3986 §2.1) with the caller's set of bytes kept as they are. Each user
// names its set: URI unreserved characters (form and query values), W3C baggage octets (HBONE's
// baggage header), printable ASCII (gRPC's grpc-message).
#pragma once

#include <string>
#include <string_view>

#include "common/hex.h"  // hexDigitValue

namespace warren {

// RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
bool isUriUnreserved(unsigned char c);

// Every byte `keep` refuses becomes %XX (upper-case hex). '%' must be refused by `keep` for the
// result to decode back unambiguously.
std::string percentEncode(std::string_view in, bool (*keep)(unsigned char));

// Decodes each well-formed %XX; a '%' not followed by two hex digits stays as it is (the
// receivers that must not fail on a peer's sloppy encoding: grpc-message, baggage).
std::string percentDecodeLenient(std::string_view in);

}  // namespace warren
