// The protocol-neutral steps every front end takes per request, between parsing the request and
// moving its bytes: the forwarding headers and telemetry's begin(), the route decision for the
// Service dialled, and the endpoint for a forward (least request, counted, the record's
// destination filled). Http1Session and Http2Exchange both take them, in this order.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/route_config.h"
#include "waypoint/proxy/upstreams.h"
#include "waypoint/request/http_request.h"
#include "waypoint/route/route_decision.h"
#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint {

// x-forwarded-for gets the client this hop saw (appended to what came), x-forwarded-proto
// "http" when absent (Envoy's defaults for a mesh proxy without an edge), then
// RequestTelemetry::begin: x-request-id kept when valid or generated, trace context continued
// or started; record.request_id and record.trace are set.
void addForwardingHeaders(HttpRequest& request, RequestRecord& record, const ConnectionFacts& facts,
                          SessionEnv& env);

// JWT and L7 authorization (env.admission; none: allowed): a reply to send instead of routing
// (401 / 403), or nullopt with the request's headers edited (token stripped, claims added).
std::optional<LocalReply> admitRequest(HttpRequest& request, RequestRecord& record,
                                       const ConnectionFacts& facts, SessionEnv& env);

// TrafficPolicy (env.traffic; none: nothing) for a request routed to a backend: a local rate
// limit's 429, a fault's delay and abort (traffic_control.h); flags and details in the record.
// The front end waits out `delay` before it answers `reply` or forwards.
TrafficVerdict applyTrafficPolicy(RequestRecord& record, const ConnectionFacts& facts,
                                  SessionEnv& env);

// RouteTable::route for the Service and port the client dialled; the route's name goes into
// the record.
RouteDecision decideRoute(const RouteConfig& routes, const ConnectionFacts& facts,
                          const HttpRequest& request, RouteRandom& random, RequestRecord& record);

// A route's direct answer (404 no rule, 500 bad backend...) recorded: NR for no rule, the
// details "<reason>: <detail>", which is also the answer's text (returned).
std::string recordDirectResponse(const DirectResponse& d, RequestRecord& record);

// The Service a backend names (a BackendTarget of kind Service), else the Service the client
// dialled; its key ("<ns>/<hostname>") and port whether or not it is in the state (null then).
struct ResolvedBackend {
  std::string key;
  uint16_t port = 0;
  const mesh::Service* service = nullptr;
};
ResolvedBackend resolveBackend(const mesh::StateSnapshot& snapshot, const RouteConfig& routes,
                               const ConnectionFacts& facts, const BackendTarget& target);

// The endpoint for `backend`: the backend Service's (or the dialled Service's) endpoints by least
// request, those in `avoid` (endpoint uids a retried request tried) least preferred, those
// ejected left out. On success the endpoint's active-request count includes this request and
// the record names the destination and upstream host. The refusal says the flag (NC: no such Service in the state, or the
// waypoint's own workload not there yet; UH: no healthy endpoint, or every one ejected by
// outlier detection; UO: the Service's DestinationRule http2MaxRequests reached) and why;
// answer it 503. The caller ends it with env.upstreams->end(choice), which also gives back
// the place under the request limit.
std::expected<UpstreamChoice, UpstreamRefusal> chooseEndpoint(SessionEnv& env,
                                                              const RouteConfig& routes,
                                                              const ConnectionFacts& facts,
                                                              const BackendTarget& backend,
                                                              RequestRecord& record,
                                                              const std::vector<std::string>* avoid = nullptr);

}  // namespace warren::waypoint
