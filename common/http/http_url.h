#pragma once
// An `http://host[:port][/target]` URL naming a plain-HTTP service a daemon talks to on its own
// (the waypoint's OTLP collector, a JWKS endpoint): one parser for all of them.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::http {

struct HttpUrl {
  std::string host;    // as written: a DNS name, an IPv4 address or a bracketed IPv6 one
  uint16_t port = 0;   // the URL's, else the caller's default
  std::string target;  // path and query as written ("/v1/traces", "/k?x=1"); "" when absent

  std::string origin() const;  // "http://host:port"
};

// Refused, with the reason alone (the caller names the setting): another scheme (https is not
// supported: plain HTTP only), userinfo, a fragment, an empty host, a port outside 1..65535, a
// character no host has (an IPv6 address needs [brackets]).
Result<HttpUrl> parseHttpUrl(std::string_view url, uint16_t default_port);

}  // namespace warren::http
