// The reason phrase for a status code (RFC 9110 §15 and the IANA HTTP Status Code Registry).
// Every HTTP/1.1 writer in the tree uses this one table.
#pragma once

#include <string_view>

namespace warren::http1 {

// "OK", "Not Found", "Permanent Redirect", ...; empty for a code the registry does not name
// (RFC 9112 §4 lets the reason phrase be empty). The view is of a literal: data() is
// NUL-terminated.
std::string_view reasonPhrase(int status);

}  // namespace warren::http1
