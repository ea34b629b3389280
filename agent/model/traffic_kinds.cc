#include "agent/model/traffic_kinds.h"

#include <yaml-cpp/yaml.h>

#include "agent/model/route_kinds.h"

namespace warren::agent {
namespace {

using k8s::Fields;

Result<std::chrono::milliseconds> readDuration(const Fields& f, const std::string& key) {
  auto text = f.str(key);
  if (!text) return fail(text.error());
  if (text->empty()) return std::chrono::milliseconds{0};
  auto d = parseGatewayDuration(*text);
  if (!d) return fail(f.error(key, d.error().message()));
  return *d;
}

// Istio's Percent: {value: <double 0..100>}; absent = every request.
Result<double> readPercentage(const Fields& f) {
  if (!f.has("percentage")) return 100.0;
  Fields p = f.child("percentage");
  if (auto s = p.expectMap(); !s) return fail(s.error());
  if (!p.has("value")) return fail(p.error("value", "missing"));
  const YAML::Node& v = p.node()["value"];
  double out = 0;
  if (!v.IsScalar() || !YAML::convert<double>::decode(v, out))
    return fail(p.error("value", "expected a number"));
  if (!(out >= 0 && out <= 100)) return fail(p.error("value", "must be within 0..100"));
  return out;
}

Result<LocalRateLimitSpec> decodeRateLimit(const Fields& f) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  LocalRateLimitSpec r;
  auto max = f.integer("maxTokens", 0, 0, UINT32_MAX);
  if (!max) return fail(max.error());
  if (*max < 1) return fail(f.error("maxTokens", "required, at least 1"));
  r.max_tokens = static_cast<uint32_t>(*max);
  auto per_fill = f.integer("tokensPerFill", 1, 1, UINT32_MAX);
  if (!per_fill) return fail(per_fill.error());
  r.tokens_per_fill = static_cast<uint32_t>(*per_fill);
  auto interval = readDuration(f, "fillInterval");
  if (!interval) return fail(interval.error());
  if (interval->count() <= 0) return fail(f.error("fillInterval", "required, more than 0"));
  r.fill_interval = *interval;
  auto per = f.str("bucketPer", "Target");
  if (!per) return fail(per.error());
  if (*per == "Target") {
    r.bucket_per = LocalRateLimitSpec::BucketPer::kTarget;
  } else if (*per == "Route") {
    r.bucket_per = LocalRateLimitSpec::BucketPer::kRoute;
  } else if (*per == "SourcePrincipal") {
    r.bucket_per = LocalRateLimitSpec::BucketPer::kSourcePrincipal;
  } else {
    return fail(
        f.error("bucketPer", "expected Target, Route or SourcePrincipal, got '" + *per + "'"));
  }
  return r;
}

Result<FaultSpec> decodeFault(const Fields& f) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  FaultSpec out;
  if (f.has("delay")) {
    Fields d = f.child("delay");
    if (auto s = d.expectMap(); !s) return fail(s.error());
    FaultSpec::Delay delay;
    auto fixed = readDuration(d, "fixedDelay");
    if (!fixed) return fail(fixed.error());
    if (fixed->count() <= 0) return fail(d.error("fixedDelay", "required, more than 0"));
    delay.fixed_delay = *fixed;
    auto pct = readPercentage(d);
    if (!pct) return fail(pct.error());
    delay.percentage = *pct;
    out.delay = delay;
  }
  if (f.has("abort")) {
    Fields a = f.child("abort");
    if (auto s = a.expectMap(); !s) return fail(s.error());
    if (a.has("grpcStatus") || a.has("http2Error"))
      return fail(a.error("grpcStatus", "only httpStatus aborts are supported"));
    FaultSpec::Abort abort;
    auto status = a.integer("httpStatus", 0, 0, 999);
    if (!status) return fail(status.error());
    if (*status < 200 || *status > 599)
      return fail(a.error("httpStatus", "required, an HTTP status 200..599"));
    abort.http_status = static_cast<uint32_t>(*status);
    auto pct = readPercentage(a);
    if (!pct) return fail(pct.error());
    abort.percentage = *pct;
    out.abort = abort;
  }
  return out;
}

}  // namespace

bool isWarrenTrafficPolicy(const k8s::Object& obj) {
  return obj.kind == "TrafficPolicy" && obj.api_version.starts_with("warren.dev/");
}

Result<TrafficPolicy> decodeTrafficPolicy(const k8s::Object& obj) {
  if (obj.api_version != "warren.dev/v1alpha1")
    return fail(obj.fieldError("apiVersion", "expected warren.dev/v1alpha1"));
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  TrafficPolicy p;
  p.meta = obj.meta;
  if (spec.missing()) return p;
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  WARREN_TRY(readTargetRefs(spec, p.target_refs));
  if (spec.has("localRateLimit")) {
    auto r = decodeRateLimit(spec.child("localRateLimit"));
    if (!r) return fail(r.error());
    p.local_rate_limit = *r;
  }
  if (spec.has("fault")) {
    auto f = decodeFault(spec.child("fault"));
    if (!f) return fail(f.error());
    p.fault = *f;
  }
  return p;
}

}  // namespace warren::agent
