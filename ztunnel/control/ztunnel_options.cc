#include "ztunnel/control/ztunnel_options.h"

#include <fmt/format.h>

#include <map>

namespace warren::ztunnel {

std::string ztunnelUsage() {
  return "usage: warren-ztunnel --node NAME --run-dir DIR [--log-level LEVEL]\n"
         "         [--xds-address TARGET] [--ca-address TARGET] [--zds-socket PATH]\n"
         "         [--trust-domain TD] [--admin-address IP:PORT] [--metrics-address IP:PORT]\n"
         "         [--readiness-address IP:PORT]\n"
         "  TARGET is a gRPC target, default unix:<run-dir>/xds.sock\n";
}

Result<ZtunnelOptions> parseZtunnelOptions(const std::vector<std::string>& args) {
  ZtunnelOptions o;
  std::map<std::string, std::string*> flags = {
      {"--node", &o.node},
      {"--run-dir", &o.run_dir},
      {"--log-level", &o.log_level},
      {"--xds-address", &o.xds_address},
      {"--ca-address", &o.ca_address},
      {"--zds-socket", &o.zds_socket},
      {"--trust-domain", &o.trust_domain},
      {"--admin-address", &o.admin_address},
      {"--metrics-address", &o.metrics_address},
      {"--readiness-address", &o.readiness_address},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_value = false;
    if (auto eq = flag.find('='); eq != std::string::npos && flag.starts_with("--")) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    auto it = flags.find(flag);
    if (it == flags.end()) return fail(Error::invalid(fmt::format("unknown flag {}", args[i])));
    if (!has_value) {
      if (i + 1 >= args.size()) return fail(Error::invalid(fmt::format("{} needs a value", flag)));
      value = args[++i];
    }
    if (value.empty()) return fail(Error::invalid(fmt::format("{} must not be empty", flag)));
    *it->second = value;
  }
  if (o.node.empty()) return fail(Error::invalid("--node is required"));
  if (o.run_dir.empty()) return fail(Error::invalid("--run-dir is required"));
  if (o.xds_address.empty()) o.xds_address = "unix:" + o.run_dir + "/xds.sock";
  if (o.ca_address.empty()) o.ca_address = o.xds_address;
  if (o.zds_socket.empty()) o.zds_socket = o.run_dir + "/zds.sock";
  return o;
}

}  // namespace warren::ztunnel
