// Serialises an HttpResponse to HTTP/1.1 bytes. Pure.
#pragma once

#include <string>

#include "common/http/http_message.h"

namespace warren::http {

// Status line, Content-Type, Content-Length, extra headers, "Connection: close" when
// !keep_alive, blank line, body. Header values have CR/LF stripped (no response splitting).
std::string serializeResponse(const HttpResponse& response, bool keep_alive);

}  // namespace warren::http
