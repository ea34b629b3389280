// base64url (RFC 4648 §5), as JWS and JWK use it (RFC 7515 §2: no padding).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace warren::waypoint {

// nullopt on a character outside the alphabet, a length that cannot be base64 (len % 4 == 1),
// or non-zero bits left over in the last character (a non-canonical encoding). Trailing '='
// padding is accepted only when `allow_padding` (JWKS members sometimes carry it; JWS
// segments never do).
std::optional<std::string> base64UrlDecode(std::string_view in, bool allow_padding = false);

// Without padding.
std::string base64UrlEncode(std::string_view in);

}  // namespace warren::waypoint
