// Serialises an HttpResponse to HTTP/1.1 bytes through the common/http1 Serializer. Pure.
#pragma once

#include <string>

#include "common/http/http_message.h"

namespace warren::http {

// Status line, Content-Type, extra headers, "Connection: close" when !keep_alive,
// Content-Length (none for 1xx/204/304), blank line, body. A response the codec refuses (a
// header value with CR/LF, a name that is not a token: a handler bug, or response splitting)
// becomes a 500 naming the problem instead of being written or silently repaired.
std::string serializeResponse(const HttpResponse& response, bool keep_alive);

}  // namespace warren::http
