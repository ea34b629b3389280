// RequestAdmission: the waypoint's one step between a normalized request and its routing,
// shared by every front end (HTTP/1.1 and HTTP/2): RequestAuthentication (JWT) then
// AuthorizationPolicy, in Envoy's filter order (jwt_authn before rbac, as istiod builds a
// waypoint's chain). It reads the request and the connection, never I/O:
//
//   auto reply = admission.admit(request, connection, &service, record);
//   if (reply) answer(reply->status, reply->headers, reply->body);   // 401 or 403, then done
//   else route(request);                                              // headers edited
//
//   token present and invalid             -> 401 "Jwt verification fails: <why>" with
//                                            WWW-Authenticate: Bearer realm="http://<host><path>",
//                                            error="invalid_token"  (Envoy jwt_authn)
//   CUSTOM matches / DENY matches /
//   ALLOW policies apply and none matches -> 403 "RBAC: access denied"        (Envoy rbac)
//   otherwise                             -> allowed; the token header removed unless
//                                            forwardOriginalToken, outputClaimToHeaders added
//
// The decision goes into the RequestRecord (record.authz: result, deciding policy, dry-run
// shadow, AUDIT matches, request principal; response_code_details as Envoy's:
// `rbac_access_denied_matched_policy[ns/name]`, `..[none]` when no ALLOW matched,
// `jwt_authn_access_denied{<reason>}`), so the access log line and /requests show it, and into
// counters on the waypoint's :15020:
//   warren_waypoint_authz_decisions_total{decision, policy}  decision = allowed | denied |
//       shadow_allowed | shadow_denied | audited  (Envoy's rbac allowed/denied/shadow_* stats)
//   warren_waypoint_jwt_authn_total{outcome}                 outcome = no_token |
//       authenticated | rejected
// `policy` is "ns/name", "none" when no policy decided.
//
// Plain TCP through the waypoint (a port without HTTP) asks admitConnection: the same policies
// with no request (HTTP-only fields fail closed, l7_policy_set.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/metrics/registry.h"
#include "waypoint/proxy/policy_config.h"
#include "waypoint/request/http_request.h"
#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint {

struct LocalReply {
  int status = 403;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
};

class RequestAdmission {
 public:
  using Policies = std::function<std::shared_ptr<const PolicyConfig>()>;
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Registers the counters on `registry`; `policies` gives the current PolicyConfig (any
  // thread); `clock` is the wall clock JWT expiry is checked against (tests inject one).
  static Result<std::unique_ptr<RequestAdmission>> create(metrics::Registry& registry,
                                                          Policies policies, Clock clock = {});

  // `service`: the Service the request was addressed to (null: a workload address). Edits
  // `request.headers` when it goes on. Safe from every worker thread at once.
  std::optional<LocalReply> admit(HttpRequest& request, const ConnectionInfo& connection,
                                  const ServiceKey* service, RequestRecord& record) const;

  // A plain TCP connection through the waypoint: false (and `why`) when a policy denies it.
  bool admitConnection(const ConnectionInfo& connection, const ServiceKey* service,
                       std::string* why) const;

 private:
  RequestAdmission() = default;
  void count(const AuthzDecision& d) const;

  Policies policies_;
  Clock clock_;
  metrics::CounterFamily* decisions_ = nullptr;
  metrics::CounterFamily* jwt_ = nullptr;
};

}  // namespace warren::waypoint
