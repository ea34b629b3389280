#include "common/kube/object_store.h"

#include <ctime>

namespace warren::kube {

std::optional<ResourceType> resourceType(const std::string& api_version, const std::string& kind) {
  static const ResourceType kTypes[] = {
      {"v1", "Namespace", "namespaces", false},
      {"v1", "Pod", "pods", true},
      {"v1", "Service", "services", true},
      {"v1", "ServiceAccount", "serviceaccounts", true},
      {"apps/v1", "Deployment", "deployments", true},
      {"coordination.k8s.io/v1", "Lease", "leases", true},
      {"gateway.networking.k8s.io/v1", "Gateway", "gateways", true},
      {"gateway.networking.k8s.io/v1", "GatewayClass", "gatewayclasses", false},
      {"gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", true},
      {"gateway.networking.k8s.io/v1", "GRPCRoute", "grpcroutes", true},
      {"security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies", true},
      {"security.istio.io/v1", "PeerAuthentication", "peerauthentications", true},
  };
  for (const auto& t : kTypes)
    if (t.api_version == api_version && t.kind == kind) return t;
  return std::nullopt;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string rfc3339Micro(std::chrono::system_clock::time_point t) {
  // floor, not time_point_cast (which truncates toward zero): before 1970 the fraction would
  // come out negative (".-250000") and the seconds one too late.
  auto secs = std::chrono::floor<std::chrono::seconds>(t);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::string s = rfc3339(secs);
  char frac[24];  // room for any long long: GCC checks the format, not the [0, 1e6) range
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(micros));
  return s.substr(0, s.size() - 1) + frac + "Z";
}

std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  std::chrono::microseconds frac{0};
  if (*end == '.') {
    ++end;
    int64_t value = 0;
    int digits = 0;
    while (*end >= '0' && *end <= '9') {
      if (digits < 6) {
        value = value * 10 + (*end - '0');
        ++digits;
      }
      ++end;
    }
    while (digits++ < 6) value *= 10;
    frac = std::chrono::microseconds(value);
  }
  if (std::string(end) != "Z") return std::nullopt;
  return std::chrono::system_clock::from_time_t(::timegm(&tm)) + frac;
}

}  // namespace warren::kube
