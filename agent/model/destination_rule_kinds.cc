#include "agent/model/destination_rule_kinds.h"

#include <yaml-cpp/yaml.h>

#include "agent/model/route_kinds.h"

namespace warren::agent {
namespace {

using k8s::Fields;

Result<std::chrono::milliseconds> readDuration(const Fields& f, const std::string& key,
                                               std::chrono::milliseconds def) {
  if (!f.has(key)) return def;
  auto text = f.str(key);
  if (!text) return fail(text.error());
  auto d = parseGatewayDuration(*text);
  if (!d) return fail(f.error(key, d.error().message()));
  if (d->count() <= 0) return fail(f.error(key, "must be more than 0"));
  return *d;
}

Result<uint32_t> readCount(const Fields& f, const std::string& key, uint32_t def, int64_t max) {
  auto v = f.integer(key, def, 0, max);
  if (!v) return fail(v.error());
  return static_cast<uint32_t>(*v);
}

// Keys of `f` other than `applied`, as "<prefix>.<key>", into `out`.
void notApplied(const Fields& f, const std::string& prefix,
                std::initializer_list<std::string_view> applied, std::vector<std::string>& out) {
  if (!f.isMap()) return;
  for (const auto& kv : f.node()) {
    const std::string key = kv.first.as<std::string>();
    bool known = false;
    for (std::string_view a : applied) known = known || key == a;
    if (!known) out.push_back(prefix + "." + key);
  }
}

Result<OutlierDetectionSpec> decodeOutlier(const Fields& f, std::vector<std::string>& ignored) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  OutlierDetectionSpec o;
  // The deprecated consecutiveErrors is reported as not applied (below), not guessed at.
  auto c5 = readCount(f, "consecutive5xxErrors", 5, UINT32_MAX);
  if (!c5) return fail(c5.error());
  o.consecutive_5xx_errors = *c5;
  auto gw = readCount(f, "consecutiveGatewayErrors", 0, UINT32_MAX);
  if (!gw) return fail(gw.error());
  o.consecutive_gateway_errors = *gw;
  auto interval = readDuration(f, "interval", o.interval);
  if (!interval) return fail(interval.error());
  o.interval = *interval;
  auto base = readDuration(f, "baseEjectionTime", o.base_ejection_time);
  if (!base) return fail(base.error());
  o.base_ejection_time = *base;
  auto max_pct = readCount(f, "maxEjectionPercent", 10, 100);
  if (!max_pct) return fail(max_pct.error());
  o.max_ejection_percent = *max_pct;
  auto min_health = readCount(f, "minHealthPercent", 0, 100);
  if (!min_health) return fail(min_health.error());
  o.min_health_percent = *min_health;
  // splitExternalLocalOriginErrors, consecutiveLocalOriginFailures: Warren counts its own
  // failures with the answers, as Istio's default (split off) does.
  notApplied(f, "trafficPolicy.outlierDetection",
             {"consecutive5xxErrors", "consecutiveGatewayErrors", "interval",
              "baseEjectionTime", "maxEjectionPercent", "minHealthPercent"},
             ignored);
  return o;
}

Status decodeConnectionPool(const Fields& f, DestinationRule& out) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  Fields http = f.child("http");
  if (auto s = http.expectMap(); !s) return fail(s.error());
  auto max = readCount(http, "http2MaxRequests", 0, INT32_MAX);
  if (!max) return fail(max.error());
  out.max_requests = *max;
  auto pending = readCount(http, "http1MaxPendingRequests", 0, INT32_MAX);
  if (!pending) return fail(pending.error());
  out.max_pending_requests = *pending;
  notApplied(http, "trafficPolicy.connectionPool.http",
             {"http2MaxRequests", "http1MaxPendingRequests"}, out.not_applied);
  Fields tcp = f.child("tcp");
  if (auto s = tcp.expectMap(); !s) return fail(s.error());
  auto conns = readCount(tcp, "maxConnections", 0, INT32_MAX);
  if (!conns) return fail(conns.error());
  out.max_connections = *conns;
  notApplied(tcp, "trafficPolicy.connectionPool.tcp", {"maxConnections"}, out.not_applied);
  notApplied(f, "trafficPolicy.connectionPool", {"http", "tcp"}, out.not_applied);
  return ok();
}

}  // namespace

bool isIstioDestinationRule(const k8s::Object& obj) {
  return obj.kind == "DestinationRule" && obj.api_version.starts_with("networking.istio.io/");
}

Result<std::string> serviceOfHost(const std::string& host, const std::string& rule_ns) {
  if (host.empty()) return fail(Error::invalid("empty"));
  if (host.find('*') != std::string::npos)
    return fail(Error::invalid("wildcard hosts are not supported; name one Service"));
  std::vector<std::string> parts;
  for (size_t at = 0;;) {
    size_t dot = host.find('.', at);
    parts.push_back(host.substr(at, dot == std::string::npos ? std::string::npos : dot - at));
    if (dot == std::string::npos) break;
    at = dot + 1;
  }
  for (const auto& p : parts)
    if (p.empty()) return fail(Error::invalid("'" + host + "' is not a host name"));
  if (parts.size() >= 2 && parts[1] != rule_ns)
    return fail(Error::invalid("'" + host + "' is not a Service in the rule's namespace " +
                               rule_ns + " (only those are supported)"));
  if (parts.size() >= 3 && parts[2] != "svc")
    return fail(Error::invalid("'" + host + "' is not a Service host (<name>.<ns>.svc...)"));
  return parts[0];
}

Result<DestinationRule> decodeDestinationRule(const k8s::Object& obj) {
  const std::string& v = obj.api_version;
  if (v != "networking.istio.io/v1" && v != "networking.istio.io/v1beta1" &&
      v != "networking.istio.io/v1alpha3")
    return fail(obj.fieldError("apiVersion", "expected networking.istio.io/v1 (or v1beta1)"));
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  DestinationRule r;
  r.meta = obj.meta;
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  auto host = spec.str("host");
  if (!host) return fail(host.error());
  r.host = *host;
  WARREN_TRY(readTargetRefs(spec, r.target_refs));
  if (r.target_refs.empty()) {
    auto svc = serviceOfHost(r.host, obj.meta.namespace_);
    if (!svc) return fail(spec.error("host", svc.error().message()));
    r.target_refs.push_back(PolicyTargetRef{"", "Service", *svc, ""});
  }
  Fields tp = spec.child("trafficPolicy");
  if (auto s = tp.expectMap(); !s) return fail(s.error());
  if (tp.has("outlierDetection")) {
    auto o = decodeOutlier(tp.child("outlierDetection"), r.not_applied);
    if (!o) return fail(o.error());
    r.outlier_detection = *o;
  }
  if (tp.has("connectionPool")) WARREN_TRY(decodeConnectionPool(tp.child("connectionPool"), r));
  notApplied(tp, "trafficPolicy", {"outlierDetection", "connectionPool"}, r.not_applied);
  notApplied(spec, "spec", {"host", "targetRefs", "targetRef", "trafficPolicy"}, r.not_applied);
  return r;
}

}  // namespace warren::agent
