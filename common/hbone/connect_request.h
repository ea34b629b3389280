// The HBONE CONNECT request (INTEROP §4), built by the client and parsed by the server.
// Wire format of the header block, in this order:
//   :method      CONNECT                                   (HTTP/2 CONNECT, not extended)
//   :authority   <ip>:<port> | [<ipv6>]:<port> | <host>:<port>   (the inner target)
//   forwarded    for="<client ip>:<port>"[;host=<service fqdn>]  (IPv6 bracketed)
//   baggage      k8s.cluster.name=..,k8s.namespace.name=..,k8s.<type>.name=..,service.name=..,
//                service.version=..,cloud.region=..,cloud.availability_zone=..   (empty omitted)
//   traceparent  00-<32 hex trace id>-<16 hex parent id>-00  (fresh per connection)
//   x-forwarded-network <network>   (only on the inner CONNECT of double HBONE)
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/hbone/address.h"
#include "common/http2/header.h"

namespace warren::hbone {

// Source workload metadata (ZT:src/baggage.rs). Empty fields are not sent.
struct Baggage {
  std::string cluster_name;
  std::string namespace_name;
  std::string workload_type;  // deployment, cronjob, pod, job: the key is k8s.<type>.name
  std::string workload_name;
  std::string service_name;
  std::string service_version;
  std::string region;
  std::string zone;
  bool operator==(const Baggage&) const = default;
};

// "key=value,..." with W3C baggage percent-encoding of values.
std::string formatBaggage(const Baggage& b);
// Lenient, like ztunnel: unknown keys, properties (";...") and malformed members are ignored.
Baggage parseBaggage(std::string_view header);

// W3C trace context, version 00, flags 00.
struct TraceParent {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> parent_id{};

  // Fresh random ids from the OpenSSL CSPRNG (never all-zero, which W3C forbids).
  static TraceParent random();
  // Strict: "00-<32 lower hex>-<16 lower hex>-<2 hex>", non-zero ids.
  static Result<TraceParent> parse(std::string_view text);
  std::string toString() const;
  bool operator==(const TraceParent&) const = default;
};

struct ConnectRequest {
  Authority target;                         // what the server connects to
  net::SocketAddress source;                // the original client
  std::optional<std::string> service_host;  // FQDN when service-addressed
  Baggage baggage;
  TraceParent traceparent;
  std::optional<std::string> forwarded_network;
};

http2::HeaderList buildConnectHeaders(const ConnectRequest& request);

// What a server reads from a request. Only :method and :authority are required here; the
// optional headers are parsed leniently (a bad one is simply absent).
struct ParsedConnect {
  Authority authority;
  std::optional<net::SocketAddress> forwarded_for;
  std::optional<std::string> forwarded_host;
  Baggage baggage;
  std::optional<TraceParent> traceparent;
  std::optional<std::string> forwarded_network;
};

// `forwarded: for="ip:port";host=fqdn` -> (for, host). Only the first element is read.
struct Forwarded {
  std::optional<net::SocketAddress> for_addr;
  std::optional<std::string> host;
};
Forwarded parseForwarded(std::string_view header);

// Why a request is not an HBONE CONNECT at all (ztunnel: NonConnectMethod, and an authority
// that is neither ip:port nor host:port). The server's inbound decision answers both 400.
struct ConnectError {
  enum class Kind { kNotConnect, kBadAuthority };
  Kind kind;
  std::string detail;  // "method 'GET' is not CONNECT", "'10.0.0.2': missing port", ...
};

// The server's first step on every request: :method must be exactly CONNECT and :authority
// parse (parseAuthority); forwarded, baggage, traceparent and x-forwarded-network are read
// leniently. Pure, and fuzzed (fuzz/hbone_request_fuzz.cc). What the authority may name
// (this pod, a service it serves) is the mesh's inbound decision, which starts here.
std::expected<ParsedConnect, ConnectError> parseConnect(const http2::HeaderList& headers);

}  // namespace warren::hbone
