// warren-ztunnel's flags (BRIEF contract): --node --run-dir --log-level, plus overrides so it can
// point at any Istio-compatible control plane: --xds-address, --ca-address (gRPC targets,
// default unix:<run-dir>/xds.sock), --zds-socket (default <run-dir>/zds.sock), --trust-domain
// (default cluster.local), and the admin/metrics/readiness listen addresses.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/tls/kernel_tls.h"

namespace warren::ztunnel {

struct ZtunnelOptions {
  std::string node;
  std::string run_dir;
  std::string log_level = "info";
  std::string xds_address;  // gRPC target
  std::string ca_address;   // gRPC target
  std::string zds_socket;
  std::string trust_domain = "cluster.local";
  std::string admin_address = "127.0.0.1:15000";  // loopback or unix only (checked)
  std::string metrics_address = "0.0.0.0:15020";
  std::string readiness_address = "0.0.0.0:15021";
  std::chrono::seconds cert_ttl{24 * 3600};  // asked of the CA per certificate
  unsigned workers = 0;                      // data-path worker threads; 0 = one per core
  unsigned drain_seconds = 10;               // SIGTERM: how long open connections may finish
  // A pooled HBONE connection with no stream for this long is closed with GOAWAY; 0: never.
  std::chrono::seconds pool_idle_timeout{5 * 60};
  // Inbound connections reach the app from the client's address (source routing in each pod
  // netns, source_routing.h), as Istio's in-pod mode; false: from the pod's own address.
  bool preserve_source_ip = true;
  // HBONE records sealed by the kernel where it has kTLS (auto), or always by OpenSSL (off).
  tls::KernelTlsMode kernel_tls = tls::KernelTlsMode::kAuto;
  bool data_path = true;  // false: control half only (tests of the clients)
};

// Parses argv (without the program name). Unknown flags and missing values are errors naming
// the flag; --node and --run-dir are required.
// "60s", "5m", "24h", or bare seconds.
Result<std::chrono::seconds> parseDuration(std::string_view text);

Result<ZtunnelOptions> parseZtunnelOptions(const std::vector<std::string>& args);

// The admin endpoint changes log levels and dumps the node's state: a unix socket or a
// loopback address (127.0.0.0/8, ::1), like Istio's ztunnel. Anything else is an error.
Status checkLocalAdminAddress(const std::string& address);

std::string ztunnelUsage();

}  // namespace warren::ztunnel
