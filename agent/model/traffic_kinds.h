// warren.dev/v1alpha1 TrafficPolicy: what a waypoint does to the requests of its targets besides
// routing them, where Gateway API has no field (waypoint/README.md "Traffic policy"). Attached
// like Istio's waypoint policies, by targetRefs (a warren-waypoint Gateway, the GatewayClass
// from the root namespace, or a Service that uses a waypoint):
//
//   apiVersion: warren.dev/v1alpha1
//   kind: TrafficPolicy
//   metadata: {name: api-limits, namespace: shop}
//   spec:
//     targetRefs: [{kind: Service, group: "", name: api}]
//     localRateLimit:            # Envoy local_ratelimit's token_bucket, per waypoint
//       maxTokens: 10            # required, >= 1
//       tokensPerFill: 10        # default 1
//       fillInterval: 1s         # required, a Gateway API duration, > 0
//       bucketPer: Target        # Target (default) | Route | SourcePrincipal
//     fault:                     # Istio VirtualService HTTPFaultInjection, same field names
//       delay: {fixedDelay: 2s, percentage: {value: 10}}
//       abort: {httpStatus: 503, percentage: {value: 5}}
//
// The decoder rejects wrong types and values out of range, naming the field: the model keeps
// the last good version and the admin API shows the error.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/security_kinds.h"
#include "common/k8s/object.h"

namespace warren::agent {

struct LocalRateLimitSpec {
  enum class BucketPer { kTarget, kRoute, kSourcePrincipal };
  uint32_t max_tokens = 0;
  uint32_t tokens_per_fill = 1;
  std::chrono::milliseconds fill_interval{0};
  BucketPer bucket_per = BucketPer::kTarget;
};

struct FaultSpec {
  struct Delay {
    std::chrono::milliseconds fixed_delay{0};
    double percentage = 100;  // Istio: unset = every request
  };
  struct Abort {
    uint32_t http_status = 0;
    double percentage = 100;
  };
  std::optional<Delay> delay;
  std::optional<Abort> abort;
};

struct TrafficPolicy {
  k8s::ObjectMeta meta;
  std::vector<PolicyTargetRef> target_refs;
  std::optional<LocalRateLimitSpec> local_rate_limit;
  std::optional<FaultSpec> fault;
};

// Only warren.dev/* TrafficPolicy is Warren's (other projects have a kind of that name).
bool isWarrenTrafficPolicy(const k8s::Object& obj);
Result<TrafficPolicy> decodeTrafficPolicy(const k8s::Object& obj);

}  // namespace warren::agent
