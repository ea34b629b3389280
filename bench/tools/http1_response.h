#pragma once
// Framing of the HTTP/1.1 responses the fixed-rate client reads back: a status line, headers,
// and a Content-Length body (the static files nginx serves; no chunked encoding is expected).
#include <cstddef>
#include <optional>
#include <string_view>

#include "common/error.h"

namespace warren::bench {

struct Http1Response {
  int status = 0;
  size_t header_bytes = 0;  // up to and including the blank line
  size_t body_bytes = 0;
  size_t total() const { return header_bytes + body_bytes; }
};

// The first response at the front of `buf`: nullopt while incomplete (read more), an error
// when it is not an HTTP/1.x response with a Content-Length (chunked is refused by name).
Result<std::optional<Http1Response>> parseHttp1Response(std::string_view buf);

}  // namespace warren::bench
