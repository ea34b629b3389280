#include "waypoint/telemetry/request_record.h"

#include <fmt/format.h>

#include "mesh/state/workload_labels.h"

namespace warren::waypoint {
namespace {

uint64_t unixNanos(std::chrono::system_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace

const char* labelValue(RequestProtocol p) { return p == RequestProtocol::kGrpc ? "grpc" : "http"; }

const char* envoyProtocol(RequestProtocol p) {
  return p == RequestProtocol::kHttp11 ? "HTTP/1.1" : "HTTP/2";
}

RequestProtocol requestProtocolOf(const HttpRequest& request) {
  if (request.isGrpc()) return RequestProtocol::kGrpc;
  return request.protocol == HttpProtocol::kHttp2 ? RequestProtocol::kHttp2
                                                  : RequestProtocol::kHttp11;
}

RequestPeer RequestPeer::of(const mesh::Workload* w, std::optional<identity::SpiffeId> identity,
                            std::optional<net::SocketAddress> address) {
  RequestPeer p;
  p.labels = mesh::workloadLabels(w, identity ? identity->uri() : "");
  p.identity = std::move(identity);
  p.address = address;
  if (w) p.pod = w->name;
  return p;
}

// Reads the fields IstioRequestMetrics::LabelSource compares (with the codes): a field read here
// goes there too, or a thread's kept series would count requests of another label set.
metrics::TrafficLabels requestTrafficLabels(const RequestRecord& r) {
  metrics::TrafficLabels l;
  l.reporter = "waypoint";  // Istio ambient: waypoint metrics carry reporter="waypoint"
  l.source = r.source.labels;
  l.destination_service = r.service;
  l.destination = r.destination.labels;
  l.request_protocol = labelValue(r.protocol);
  l.response_flags = r.response_flags.toString();
  l.connection_security_policy = r.mtls ? "mutual_tls" : "unknown";
  return l;
}

SpanData buildServerSpan(const RequestRecord& r) {
  SpanData s;
  const RequestTrace& t = *r.trace;
  s.trace_id = t.trace_id;
  s.span_id = t.span_id;
  s.parent_span_id = t.parent_span_id;
  s.parent_remote = t.parent_span_id.has_value();
  s.sampled = t.sampled;
  s.tracestate = t.tracestate;
  if (!r.service.host.empty() && r.service_port != 0) {
    s.name = fmt::format("{}:{}/*", r.service.host, r.service_port);
  } else {
    s.name = fmt::format("{}/*", r.authority.empty() ? "unknown" : r.authority);
  }
  s.start_unix_nanos = unixNanos(r.start_time);
  s.end_unix_nanos = unixNanos(r.start_time + r.duration);

  auto str = [&](const char* key, std::string value) {
    if (!value.empty()) s.attributes.push_back({key, std::move(value)});
  };
  auto num = [&](const char* key, int64_t value) { s.attributes.push_back({key, value}); };
  str("component", "proxy");
  str("http.method", r.method);
  str("http.url", fmt::format("http://{}{}", r.authority, r.path));
  str("http.protocol", envoyProtocol(r.protocol));
  num("http.status_code", r.response_code);
  if (r.grpc_status) num("grpc.status_code", *r.grpc_status);
  str("response_flags", r.response_flags.toString());
  num("request_size", static_cast<int64_t>(r.request_body_bytes));
  num("response_size", static_cast<int64_t>(r.response_body_bytes));
  str("guid:x-request-id", r.request_id);
  str("user_agent", r.user_agent);
  if (r.source.address) str("peer.address", r.source.address->ip.toString());
  if (r.upstream_host) str("upstream_address", r.upstream_host->toString());
  if (!r.service.host.empty() && r.service_port != 0)
    str("upstream_cluster", fmt::format("outbound|{}||{}", r.service_port, r.service.host));
  str("route_name", r.route_name);
  str("istio.canonical_service", r.destination.labels.canonical_service);
  str("istio.namespace", r.service.namespace_);
  if (r.source.identity) str("source.principal", r.source.identity->uri());
  if (r.destination.identity) str("destination.principal", r.destination.identity->uri());

  if (r.response_code >= 500 || r.response_code == 0) {
    s.error = true;
    s.status_message = r.response_code == 0
                           ? fmt::format("no response ({})", r.response_flags.toString())
                           : fmt::format("HTTP {}", r.response_code);
  } else if (r.grpc_status && *r.grpc_status != 0) {
    s.error = true;
    s.status_message = fmt::format("gRPC status {}", *r.grpc_status);
  }
  if (s.error) s.attributes.push_back({"error", true});
  return s;
}

}  // namespace warren::waypoint
