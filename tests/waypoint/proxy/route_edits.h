// Edits of a warren.l7.v1 route push for the session tests (HTTP/1.1 and HTTP/2): a rule's
// timeouts and retry, as the agent would translate them from an HTTPRoute.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "warren/l7/v1/routes.pb.h"

namespace warren::waypoint {

inline void setMillis(google::protobuf::Duration* d, int64_t ms) {
  d->set_seconds(ms / 1000);
  d->set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
}

// `sr` with the first rule of its first port edited.
inline warren::l7::v1::ServiceRoutes withFirstRule(
    warren::l7::v1::ServiceRoutes sr, const std::function<void(warren::l7::v1::RouteRule&)>& edit) {
  edit(*sr.mutable_ports(0)->mutable_rules(0));
  return sr;
}

inline void retryOn(warren::l7::v1::RouteRule& r, uint32_t attempts, std::vector<uint32_t> codes,
                    int64_t backoff_ms) {
  r.mutable_retry()->mutable_attempts()->set_value(attempts);
  for (uint32_t c : codes) r.mutable_retry()->add_codes(c);
  setMillis(r.mutable_retry()->mutable_backoff(), backoff_ms);
}

}  // namespace warren::waypoint
