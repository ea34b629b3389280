#include "ztunnel/control/ztunnel_options.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <map>

#include "common/http/listen_address.h"

namespace warren::ztunnel {

std::string ztunnelUsage() {
  return "usage: warren-ztunnel --node NAME --run-dir DIR [--log-level LEVEL]\n"
         "         [--xds-address TARGET] [--ca-address TARGET] [--zds-socket PATH]\n"
         "         [--trust-domain TD] [--admin-address IP:PORT] [--metrics-address IP:PORT]\n"
         "         [--readiness-address IP:PORT] [--workers N] [--drain-seconds S]\n"
         "         [--cert-ttl DURATION]   (e.g. 60s, 24h; default $SECRET_TTL, else 24h)\n"
         "         [--pool-idle-timeout DURATION]  (0: never; default\n"
         "                                $POOL_UNUSED_RELEASE_TIMEOUT, else 5m)\n"
         "         [--preserve-source-ip true|false]  (default true: the app sees the\n"
         "                                client's address, not its own)\n"
         "         [--kernel-tls auto|off]  (default auto: the kernel seals HBONE records\n"
         "                                where it has kTLS)\n"
         "  TARGET is a gRPC target, default unix:<run-dir>/xds.sock\n";
}

Result<std::chrono::seconds> parseDuration(std::string_view text) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data())
    return fail(Error::invalid(fmt::format("'{}' is not a duration (60s, 5m, 24h)", text)));
  std::string_view unit(p, static_cast<size_t>(text.data() + text.size() - p));
  uint64_t mult = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (mult == 0 || n > 100'000'000)
    return fail(Error::invalid(fmt::format("'{}' is not a duration (60s, 5m, 24h)", text)));
  return std::chrono::seconds(static_cast<int64_t>(n * mult));
}

Status checkLocalAdminAddress(const std::string& address) {
  auto a = http::ListenAddress::parse(address);
  if (!a) return fail(a.error().wrap("--admin-address"));
  if (a->kind == http::ListenAddress::Kind::kUnix) return ok();
  if (a->socket_address.ip.isLoopback()) return ok();
  return fail(Error::invalid(fmt::format(
      "--admin-address {}: the admin endpoint (log levels, config dump) listens on localhost "
      "only: 127.0.0.1:PORT, [::1]:PORT or unix:PATH",
      address)));
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
  std::string workers, drain, ttl, pool_idle, preserve_source, kernel_tls;
  flags["--preserve-source-ip"] = &preserve_source;
  flags["--kernel-tls"] = &kernel_tls;
  flags["--workers"] = &workers;
  flags["--pool-idle-timeout"] = &pool_idle;
  flags["--cert-ttl"] = &ttl;
  flags["--drain-seconds"] = &drain;
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
  auto number = [](const std::string& flag, const std::string& text, unsigned max,
                   unsigned* out) -> Status {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v > max)
      return fail(Error::invalid(fmt::format("{} '{}': want a number 0..{}", flag, text, max)));
    *out = v;
    return ok();
  };
  if (!workers.empty()) WARREN_TRY(number("--workers", workers, 256, &o.workers));
  if (!drain.empty()) WARREN_TRY(number("--drain-seconds", drain, 3600, &o.drain_seconds));
  if (!preserve_source.empty()) {
    if (preserve_source != "true" && preserve_source != "false")
      return fail(Error::invalid(
          fmt::format("--preserve-source-ip '{}': want true or false", preserve_source)));
    o.preserve_source_ip = preserve_source == "true";
  }
  if (!kernel_tls.empty()) {
    auto mode = tls::parseKernelTlsMode(kernel_tls);
    if (!mode) return fail(mode.error());
    o.kernel_tls = *mode;
  }
  if (pool_idle.empty()) {
    // Istio ztunnel's name for how long an unused pooled connection is kept.
    const char* env = std::getenv("POOL_UNUSED_RELEASE_TIMEOUT");
    if (env && *env) pool_idle = env;
  }
  if (!pool_idle.empty()) {
    auto d = parseDuration(pool_idle);
    if (!d) return fail(d.error().wrap("--pool-idle-timeout / POOL_UNUSED_RELEASE_TIMEOUT"));
    o.pool_idle_timeout = *d;
  }
  if (ttl.empty()) {
    const char* env = std::getenv("SECRET_TTL");  // Istio's name for the workload cert TTL
    if (env && *env) ttl = env;
  }
  if (!ttl.empty()) {
    auto d = parseDuration(ttl);
    if (!d) return fail(d.error().wrap("--cert-ttl / SECRET_TTL"));
    if (*d < std::chrono::seconds(10) || *d > std::chrono::hours(24 * 90))
      return fail(Error::invalid(fmt::format("--cert-ttl '{}': want 10s..2160h", ttl)));
    o.cert_ttl = *d;
  }
  if (o.node.empty()) return fail(Error::invalid("--node is required"));
  if (o.run_dir.empty()) return fail(Error::invalid("--run-dir is required"));
  if (o.xds_address.empty()) o.xds_address = "unix:" + o.run_dir + "/xds.sock";
  if (o.ca_address.empty()) o.ca_address = o.xds_address;
  if (o.zds_socket.empty()) o.zds_socket = o.run_dir + "/zds.sock";
  WARREN_TRY(checkLocalAdminAddress(o.admin_address));
  return o;
}

}  // namespace warren::ztunnel
