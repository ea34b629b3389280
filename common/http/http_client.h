// A minimal blocking HTTP/1.1 client (libcurl) for warrenctl and tests: one request, one
// response, over a unix socket or TCP. Not for the data path.
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"
#include "common/http/http_message.h"
#include "common/http/listen_address.h"

namespace warren::http {

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, already percent-encoded
  std::string body;
  std::string content_type;  // sent when non-empty
  std::chrono::milliseconds timeout{5'000};

  static ClientRequest get(std::string target) {
    ClientRequest r;
    r.target = std::move(target);
    return r;
  }
  static ClientRequest withMethod(std::string method, std::string target, std::string body = "") {
    ClientRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    return r;
  }
};

// Performs the request. A transport failure (no socket, refused, timeout) is kUnavailable or
// kTimeout naming the address; any HTTP status (including 4xx/5xx) is a successful Result.
Result<HttpResponse> httpRequest(const ListenAddress& server, const ClientRequest& request);

// The same against an `http://host[:port]` origin (`host` a name libcurl resolves, an IPv4
// address or a bracketed IPv6 one), for peers configured by URL (an OTLP collector). Only
// plaintext http: the origin is not checked here (callers validate their URLs).
Result<HttpResponse> httpRequestToOrigin(const std::string& origin, const ClientRequest& request);

}  // namespace warren::http
