// The neutral request model every waypoint decision reads: routing (route/), authorization
// (authz/) and request authentication (jwt/). Both front ends fill it the same way:
//
//   field       HTTP/1.1 (RFC 9112)                    HTTP/2 (RFC 9113 §8.3.1)
//   method      request-line method                    :method
//   scheme      "http" (no TLS inside HBONE)           :scheme
//   authority   Host header (request-line authority    :authority (else Host)
//               for absolute-form)
//   path/query  request-target, split and normalized   :path, split and normalized
//               by path/path_normalizer.h              by path/path_normalizer.h
//   headers     every other field, names lower-cased   every regular field (already lower)
//
// Host/:authority are not repeated in `headers`. The connection-level facts (who the peer is,
// addresses, SNI) live in ConnectionInfo, shared by every request of a connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/identity/spiffe_id.h"
#include "waypoint/request/header_map.h"
#include "waypoint/request/ip_block.h"

namespace warren::waypoint {

enum class HttpProtocol { kHttp1, kHttp2 };

struct HttpRequest {
  HttpProtocol protocol = HttpProtocol::kHttp1;
  std::string method = "GET";
  std::string scheme = "http";
  std::string authority;   // as received, port included when sent ("echo:8080")
  std::string path = "/";  // path only: no query, no fragment
  std::string query;       // the part after '?', without it; "" when there is none
  HeaderMap headers;

  // authority without ":port" (brackets kept off IPv6 literals: "[fd00::1]:80" -> "fd00::1").
  std::string_view host() const;
  // The port written in the authority, if any.
  std::optional<uint16_t> authorityPort() const;
  // "path?query" (just the path when there is no query): what is forwarded upstream.
  std::string pathAndQuery() const;
  // content-type application/grpc[+proto|...] (gRPC over HTTP/2, PROTOCOL-HTTP2.md).
  bool isGrpc() const;

  friend bool operator==(const HttpRequest&, const HttpRequest&) = default;
};

// What the waypoint knows about the connection a request arrived on (after HBONE
// termination): the client's identity from the outer mutual TLS, its address, and where it was
// going. The proxy fills it once per connection.
struct ConnectionInfo {
  std::optional<identity::SpiffeId> source_identity;  // none: not mutual TLS
  IpAddress source_ip;  // the client workload (Envoy "direct remote address")
  IpAddress remote_ip;  // the original client (x-forwarded-for / PROXY); = source_ip by default
  IpAddress destination_ip;       // the address the client dialled (service VIP or pod IP)
  uint16_t destination_port = 0;  // the port the client dialled (the HBONE :authority port)
  std::string sni;                // TLS server name of the inner connection, "" when none
};

}  // namespace warren::waypoint
