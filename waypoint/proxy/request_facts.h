// RequestFacts: every fact the waypoint knows about one HTTP request, gathered in one place
// while it is served and handed, once, to the worker's onRequestDone(record) when it ends
// (answered, refused, or cut off). Telemetry (metrics with Istio's labels, the access log,
// spans) is to read these facts; the proxy logs each at debug level. Named apart from
// waypoint/telemetry's RequestRecord (built at the same time on another branch), which is meant
// to replace it: its fields map one to one (start -> start_time, request_bytes ->
// request_body_bytes, the flag string -> ResponseFlags, source/destination -> RequestPeer::of).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace warren::waypoint {

struct RequestFacts {
  std::chrono::system_clock::time_point start;         // head received
  std::chrono::steady_clock::time_point start_steady;  // for the duration
  std::chrono::microseconds duration{0};               // head received -> response ended

  std::string protocol = "HTTP/1.1";  // downstream protocol
  std::string method;
  std::string authority;       // Host as received
  std::string path;            // request-target as received
  std::string forwarded_path;  // path and query sent upstream (after normalization/rewrite)
  int response_code = 0;       // 0: no response was sent (the client went away first)
  // Envoy's response flags, comma-separated, "-" when none: NR (no route), UH (no healthy
  // upstream), UF (upstream connect failure), UC (upstream connection terminated), UPE
  // (upstream protocol error), DC (downstream connection terminated), DPE (downstream
  // protocol error).
  std::string response_flags = "-";
  uint64_t request_bytes = 0;   // request body bytes received from the client
  uint64_t response_bytes = 0;  // response body bytes sent to the client

  // Source: the HBONE peer (the client's ztunnel presents the client's identity).
  std::string source_identity;  // SPIFFE URI, "" without mTLS
  std::string source_address;   // the original client ip:port (forwarded for=) or the peer
  std::string source_workload;
  std::string source_namespace;
  // Destination: the Service dialled (the HBONE :authority VIP:port) and the endpoint chosen.
  std::string destination_service;  // "<ns>/<hostname>"
  std::string destination_service_name;
  std::string destination_service_namespace;
  uint16_t destination_port = 0;
  std::string destination_workload;
  std::string destination_namespace;
  std::string destination_identity;
  std::string upstream_endpoint;  // ip:port inside the tunnel, "" when not forwarded
  std::string upstream_cluster;   // the backend Service chosen: "<ns>/<name>:<port>"

  std::string route_name;  // "HTTPRoute ns/name rule i", "" when no route applied
  std::string request_id;  // x-request-id (generated when the client sent none)
  // Trace context as received (W3C and B3), forwarded unchanged.
  std::string traceparent;
  std::string tracestate;
  std::string b3_trace_id;
  std::string b3_span_id;
  std::string user_agent;
  std::string detail;  // why, when the waypoint answered itself or failed

  void addFlag(const std::string& flag) {
    response_flags = response_flags == "-" ? flag : response_flags + "," + flag;
  }
  nlohmann::json toJson() const;
};

}  // namespace warren::waypoint
