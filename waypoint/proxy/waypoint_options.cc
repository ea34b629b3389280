#include "waypoint/proxy/waypoint_options.h"

#include <charconv>
#include <cstdlib>

#include "common/net/ip_address.h"

namespace warren::waypoint {
namespace {

Result<unsigned> number(const std::string& flag, const std::string& text, unsigned max) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v > max)
    return fail(
        Error::invalid(flag + ": '" + text + "' is not a number up to " + std::to_string(max)));
  return v;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::string waypointUsage() {
  return "usage: warren-waypoint --gateway NAMESPACE/NAME [--xds-socket PATH]\n"
         "         [--trust-domain TD] [--hbone-port 15008] [--admin-port 15000]\n"
         "         [--metrics-port 15020] [--readiness-port 15021] [--log-level info]\n"
         "         [--workers N] [--drain-seconds S] [--listen-ip 0.0.0.0]\n"
         "         [--pod-name N] [--pod-namespace NS] [--node-name N] [--pod-ip IP]\n"
         "         [--tracing-otlp-endpoint http://HOST[:4318][/v1/traces]]\n"
         "         [--tracing-sampling PERCENT (default 1)]\n"
         "         [--jwks-refresh-seconds 1200] [--request-header-timeout-seconds 10]\n"
         "         [--access-log-flush-ms 1000] [--kernel-tls auto|off]\n"
         "  env: POD_NAME, POD_NAMESPACE, NODE_NAME, POD_IP (the Deployment's downward API)\n";
}

Result<WaypointOptions> parseWaypointOptions(const std::vector<std::string>& args) {
  WaypointOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) return fail(Error::invalid(flag + ": missing value"));
    const std::string& v = args[++i];
    auto port = [&](uint16_t& out) -> Status {
      auto n = number(flag, v, 65535);
      if (!n) return fail(n.error());
      out = static_cast<uint16_t>(*n);
      return ok();
    };
    Status st = ok();
    if (flag == "--xds-socket")
      o.xds_socket = v;
    else if (flag == "--trust-domain")
      o.trust_domain = v;
    else if (flag == "--gateway")
      o.gateway = v;
    else if (flag == "--listen-ip")
      o.listen_ip = v;
    else if (flag == "--hbone-port")
      st = port(o.hbone_port);
    else if (flag == "--admin-port")
      st = port(o.admin_port);
    else if (flag == "--metrics-port")
      st = port(o.metrics_port);
    else if (flag == "--readiness-port")
      st = port(o.readiness_port);
    else if (flag == "--log-level")
      o.log_level = v;
    else if (flag == "--workers") {
      auto n = number(flag, v, 256);
      if (!n) return fail(n.error());
      o.workers = *n;
    } else if (flag == "--kernel-tls") {
      auto mode = tls::parseKernelTlsMode(v);
      if (!mode) return fail(mode.error());
      o.kernel_tls = *mode;
    } else if (flag == "--drain-seconds") {
      auto n = number(flag, v, 3600);
      if (!n) return fail(n.error());
      o.drain_seconds = *n;
    } else if (flag == "--tracing-otlp-endpoint") {
      auto e = OtlpEndpoint::parse(v);  // the error names the flag
      if (!e) return fail(e.error());
      o.tracing_otlp_endpoint = *e;
    } else if (flag == "--tracing-sampling") {
      auto p = TracingConfig::parseSamplingPercent(v);  // the error names the flag
      if (!p) return fail(p.error());
      o.tracing_sampling_percent = *p;
    } else if (flag == "--jwks-refresh-seconds") {
      auto n = number(flag, v, 86400);
      if (!n) return fail(n.error());
      if (*n == 0) return fail(Error::invalid(flag + ": 0 is not a refresh interval"));
      o.jwks_refresh = std::chrono::seconds(*n);
    } else if (flag == "--request-header-timeout-seconds") {
      auto n = number(flag, v, 3600);
      if (!n) return fail(n.error());
      o.request_header_timeout = std::chrono::seconds(*n);
    } else if (flag == "--access-log-flush-ms") {
      auto n = number(flag, v, 60000);
      if (!n) return fail(n.error());
      o.access_log_flush = std::chrono::milliseconds(*n);
    } else if (flag == "--pod-name")
      o.pod_name = v;
    else if (flag == "--pod-namespace")
      o.pod_namespace = v;
    else if (flag == "--node-name")
      o.node_name = v;
    else if (flag == "--pod-ip")
      o.pod_ip = v;
    else
      return fail(Error::invalid("unknown flag " + flag));
    if (!st) return fail(st.error());
  }
  if (o.pod_name.empty()) o.pod_name = env("POD_NAME");
  if (o.pod_namespace.empty()) o.pod_namespace = env("POD_NAMESPACE");
  if (o.node_name.empty()) o.node_name = env("NODE_NAME");
  if (o.pod_ip.empty()) o.pod_ip = env("POD_IP");
  if (o.gateway.empty() || o.gateway.find('/') == std::string::npos)
    return fail(Error::invalid("--gateway: NAMESPACE/NAME of the waypoint's Gateway is required"));
  if (o.hbone_port == 0) return fail(Error::invalid("--hbone-port: 0 is not a port"));
  if (o.pod_ip.empty())
    return fail(
        Error::invalid("the waypoint's pod IP is unknown: set POD_IP (downward API "
                       "status.podIP) or --pod-ip"));
  if (auto ip = net::IpAddress::parse(o.pod_ip); !ip)
    return fail(ip.error().wrap("POD_IP / --pod-ip"));
  if (auto ip = net::IpAddress::parse(o.listen_ip); !ip)
    return fail(ip.error().wrap("--listen-ip"));
  if (o.pod_namespace.empty()) o.pod_namespace = o.gateway.substr(0, o.gateway.find('/'));
  return o;
}

}  // namespace warren::waypoint
