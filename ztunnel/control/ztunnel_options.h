// warren-ztunnel's flags (BRIEF contract): --node --run-dir --log-level, plus overrides so it can
// point at any Istio-compatible control plane: --xds-address, --ca-address (gRPC targets,
// default unix:<run-dir>/xds.sock), --zds-socket (default <run-dir>/zds.sock), --trust-domain
// (default cluster.local), and the admin/metrics/readiness listen addresses.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace warren::ztunnel {

struct ZtunnelOptions {
  std::string node;
  std::string run_dir;
  std::string log_level = "info";
  std::string xds_address;  // gRPC target
  std::string ca_address;   // gRPC target
  std::string zds_socket;
  std::string trust_domain = "cluster.local";
  std::string admin_address = "127.0.0.1:15000";
  std::string metrics_address = "0.0.0.0:15020";
  std::string readiness_address = "0.0.0.0:15021";
};

// Parses argv (without the program name). Unknown flags and missing values are errors naming
// the flag; --node and --run-dir are required.
Result<ZtunnelOptions> parseZtunnelOptions(const std::vector<std::string>& args);

std::string ztunnelUsage();

}  // namespace warren::ztunnel
