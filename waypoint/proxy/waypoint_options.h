// warren-waypoint's flags: exactly what the controller's generated Deployment passes
// (agent/controller/waypoint_resources.cc), plus tuning for tests. Downward-API env fills in
// who the waypoint is: POD_NAME, POD_NAMESPACE, NODE_NAME, POD_IP.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/tls/kernel_tls.h"
#include "waypoint/telemetry/otlp_exporter.h"

namespace warren::waypoint {

struct WaypointOptions {
  std::string xds_socket = "/var/run/warren/proxy/xds.sock";  // xDS + CA (unix socket path)
  std::string trust_domain = "cluster.local";
  std::string gateway;  // "<namespace>/<name>" of the Gateway this waypoint serves
  std::string listen_ip = "0.0.0.0";
  uint16_t hbone_port = 15008;
  uint16_t admin_port = 15000;      // on 127.0.0.1 only
  uint16_t metrics_port = 15020;    // 0: off
  uint16_t readiness_port = 15021;  // GET /healthz/ready
  std::string log_level = "info";
  unsigned workers = 0;        // data-path threads; 0: one per core
  unsigned drain_seconds = 5;  // SIGTERM: how long open requests may finish
  // HBONE records sealed by the kernel where it has kTLS (auto), or always by OpenSSL (off).
  tls::KernelTlsMode kernel_tls = tls::KernelTlsMode::kAuto;
  // Tracing (waypoint/telemetry/README.md): the OTLP/HTTP collector (none: tracing off) and the
  // percentage of new traces sampled.
  std::optional<OtlpEndpoint> tracing_otlp_endpoint;
  double tracing_sampling_percent = 1.0;
  // RequestAuthentication jwksUri key sets are fetched again this often (Istio's
  // PILOT_JWT_PUB_KEY_REFRESH_INTERVAL, 20 min); a failed fetch is retried sooner.
  std::chrono::seconds jwks_refresh{1200};
  // A client must finish sending a request head within this (slowloris): else 408 and the
  // connection closes. 0: no limit. HAProxy's `timeout http-request` is commonly 10 s.
  std::chrono::seconds request_header_timeout{10};
  // Access log lines are written in batches at most this far apart (or at 64 KiB), as Envoy's
  // file access log; 0: one write per line (common/accesslog/buffered_sink.h).
  std::chrono::milliseconds access_log_flush{1000};
  // From the env unless given: the waypoint's own pod.
  std::string pod_name;
  std::string pod_namespace;
  std::string node_name;
  std::string pod_ip;
};

// Parses argv (without the program name), then fills the pod fields from the env when the
// flags left them empty. Unknown flags, missing values, bad ports and a missing --gateway or
// pod IP, a bad --tracing-otlp-endpoint URL or --tracing-sampling percentage are errors naming
// the flag.
Result<WaypointOptions> parseWaypointOptions(const std::vector<std::string>& args);
std::string waypointUsage();

}  // namespace warren::waypoint
