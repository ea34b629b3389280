// Everything the waypoint knows about one request when it ends: the one input of its metrics
// (istio_requests_total ...), its access log line and its span. The proxy fills it as the
// request goes (peers when the connection is accepted, route and upstream when routed, code
// and byte counts when the response ends) and hands it to RequestTelemetry::finish once.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/identity/spiffe_id.h"
#include "common/metrics/istio_labels.h"
#include "common/net/socket_address.h"
#include "mesh/state/workload.h"
#include "waypoint/request/http_request.h"
#include "waypoint/telemetry/response_flags.h"
#include "waypoint/telemetry/tracer.h"

namespace warren::waypoint {

// The request's protocol as Istio's request_protocol label sees it ("http" for both HTTP
// versions, "grpc") and as Envoy's %PROTOCOL% prints it ("HTTP/1.1", "HTTP/2").
enum class RequestProtocol { kHttp11, kHttp2, kGrpc };
const char* labelValue(RequestProtocol p);     // "http" | "grpc"
const char* envoyProtocol(RequestProtocol p);  // "HTTP/1.1" | "HTTP/2" (gRPC rides HTTP/2)
// The protocol of a parsed request (gRPC: content-type application/grpc*).
RequestProtocol requestProtocolOf(const HttpRequest& request);

// One end of the request: the client (source) or the endpoint chosen (destination).
struct RequestPeer {
  std::optional<identity::SpiffeId> identity;  // from mutual TLS; none: plaintext / unknown
  std::optional<net::SocketAddress> address;
  std::string pod;                 // pod name, for the access log ("" when unknown)
  metrics::WorkloadLabels labels;  // Istio's labels; labels.principal == identity's URI

  // The peer as the mesh state knows it (`w` null: not in the state; only identity and address
  // are then known). The one way both sides are filled, so labels and identity agree.
  static RequestPeer of(const mesh::Workload* w, std::optional<identity::SpiffeId> identity,
                        std::optional<net::SocketAddress> address);
};

struct RequestRecord {
  // When the request's first byte arrived: the wall clock for the span and the log, the
  // monotonic one for the duration.
  std::chrono::system_clock::time_point start_time{};
  std::chrono::microseconds duration{0};  // first request byte to last response byte

  std::string method;     // "GET"
  std::string authority;  // as received ("echo:8080")
  std::string path;       // path and query as received ("/x?y=1"): Envoy's %REQ(:PATH)%
  std::string user_agent;
  RequestProtocol protocol = RequestProtocol::kHttp11;

  int response_code = 0;           // 0: no response was sent (Istio reports "0")
  std::optional<int> grpc_status;  // gRPC only: grpc-status of the response (trailers)
  ResponseFlags response_flags;
  // Envoy's %RESPONSE_CODE_DETAILS%: why a local answer was given ("route_not_found",
  // "rbac_access_denied_matched_policy[ns[demo]-policy[deny-get]-rule[0]]", "via_upstream").
  std::string response_code_details;
  uint64_t request_body_bytes = 0;   // body bytes received from the client
  uint64_t response_body_bytes = 0;  // body bytes sent to the client
  // gRPC only: length-prefixed messages in each direction (istio_request_messages_total /
  // istio_response_messages_total); unset on other protocols.
  std::optional<uint64_t> grpc_request_messages;
  std::optional<uint64_t> grpc_response_messages;

  RequestPeer source;
  RequestPeer destination;         // the endpoint picked (unknown when none was)
  metrics::ServiceLabels service;  // the Service the client addressed
  uint16_t service_port = 0;       // its port (the HBONE :authority port)
  std::string route_name;          // "<ns>/<route>[/<rule name>]", "" when none matched
  std::optional<net::SocketAddress> upstream_host;  // endpoint address:port dialled (the last)
  // Attempts sent upstream, retries included (Envoy's %UPSTREAM_REQUEST_ATTEMPT_COUNT%); 0 when
  // the waypoint answered without trying.
  uint32_t upstream_attempts = 0;
  std::string request_id;             // x-request-id as forwarded
  std::optional<RequestTrace> trace;  // the waypoint's span (tracing on)
  bool mtls = true;                   // the client came over HBONE (mutual TLS)

  // L7 authorization and request authentication (proxy/request_admission.h); all "" when no
  // policy applied.
  struct Authz {
    std::string result;             // "allowed" | "denied": the enforced decision
    std::string policy;             // "ns/name" of the policy that decided it
    std::string dry_run;            // shadow of dry-run policies: "denied ns/name", "allowed"
    std::string audit;              // AUDIT policies that matched, comma-separated
    std::string request_principal;  // the verified JWT's "iss/sub"
  } authz;
};

// Istio's labels for this request as the waypoint reports them (reporter "waypoint").
metrics::TrafficLabels requestTrafficLabels(const RequestRecord& record);

// The waypoint's SERVER span for a finished request with a trace (record.trace set). Named as
// Istio names a route's span (`<service host>:<port>/*`, else `<authority>/*`); attributes with
// Envoy's tag names (http.method, http.url, http.protocol, http.status_code, response_flags,
// request_size, response_size, guid:x-request-id, user_agent, peer.address, upstream_address,
// upstream_cluster, route_name, istio.canonical_service, istio.namespace, component,
// grpc.status_code) plus source/destination principals; error status on 5xx and on a gRPC
// status other than 0.
SpanData buildServerSpan(const RequestRecord& record);

}  // namespace warren::waypoint
