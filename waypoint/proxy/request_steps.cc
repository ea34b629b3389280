#include "waypoint/proxy/request_steps.h"

namespace warren::waypoint {

void addForwardingHeaders(HttpRequest& request, RequestRecord& record, const ConnectionFacts& facts,
                          SessionEnv& env) {
  std::string xff = facts.client.ip.toString();
  if (auto prior = request.headers.joined("x-forwarded-for")) xff = *prior + ", " + xff;
  request.headers.set("x-forwarded-for", xff);
  if (!request.headers.contains("x-forwarded-proto"))
    request.headers.set("x-forwarded-proto", "http");
  env.telemetry->begin(record, request.headers, *env.random);
}

std::optional<LocalReply> admitRequest(HttpRequest& request, RequestRecord& record,
                                       const ConnectionFacts& facts, SessionEnv& env) {
  if (!env.admission) return std::nullopt;
  const ServiceKey* service = facts.service_ref ? &*facts.service_ref : nullptr;
  return env.admission->admit(request, facts.connection, service, record);
}

TrafficVerdict applyTrafficPolicy(RequestRecord& record, const ConnectionFacts& facts,
                                  SessionEnv& env) {
  if (!env.traffic) return {};
  const ServiceKey* service = facts.service_ref ? &*facts.service_ref : nullptr;
  std::string principal;
  if (facts.connection.source_identity)
    principal = std::string(facts.connection.source_identity->principal());
  return env.traffic->decide(service, principal, *env.random, record);
}

RouteDecision decideRoute(const RouteConfig& routes, const ConnectionFacts& facts,
                          const HttpRequest& request, RouteRandom& random, RequestRecord& record) {
  RouteDestination dest;
  dest.port = facts.port;
  if (const ServiceConfig* sc = routes.service(facts.service_key))
    dest.service = ServiceKey{sc->namespace_, sc->name};
  RouteDecision decision = routes.table().route(dest, request, random);
  if (decision.route) record.route_name = decision.route->toString();
  return decision;
}

std::string recordDirectResponse(const DirectResponse& d, RequestRecord& record) {
  if (d.reason == DirectResponse::Reason::kNoRouteMatched)
    record.response_flags.add(ResponseFlag::kNoRouteFound);
  record.response_code_details = std::string(toString(d.reason)) + ": " + d.detail;
  return record.response_code_details;
}

ResolvedBackend resolveBackend(const mesh::StateSnapshot& snapshot, const RouteConfig& routes,
                               const ConnectionFacts& facts, const BackendTarget& target) {
  ResolvedBackend b{facts.service_key, facts.port, nullptr};
  if (target.kind == BackendTarget::Kind::kService) {
    b.key = routes.serviceKey(target.namespace_, target.name);
    b.port = target.port;
  }
  b.service = serviceByKey(snapshot, b.key);
  return b;
}

std::expected<UpstreamChoice, UpstreamRefusal> chooseEndpoint(SessionEnv& env,
                                                              const RouteConfig& routes,
                                                              const ConnectionFacts& facts,
                                                              const BackendTarget& backend,
                                                              RequestRecord& record,
                                                              const std::vector<std::string>* avoid) {
  const auto& snapshot = env.state->get();
  ResolvedBackend b = resolveBackend(*snapshot, routes, facts, backend);
  const mesh::Workload* local = env.local_workload(*snapshot);
  if (!b.service || !local) {
    return std::unexpected(UpstreamRefusal{
        ResponseFlag::kNoClusterFound,
        !b.service ? "backend service " + b.key + " is not in the mesh state"
                   : std::string("the waypoint's own workload is not in the state yet")});
  }
  auto choice = env.upstreams->choose(*snapshot, *b.service, b.port, *local, *env.random, avoid);
  if (!choice) return std::unexpected(choice.error());
  if (!env.upstreams->admit(*choice)) {
    // DestinationRule http2MaxRequests reached: not queued (Envoy's circuit breaker overflow).
    record.upstream_host = choice->address;
    return std::unexpected(UpstreamRefusal{
        ResponseFlag::kUpstreamOverflow, "upstream_reset_before_response_started{overflow}"});
  }
  env.upstreams->begin(choice->endpoint_uid);
  // chooseWorkload put the endpoint's own identity first among the expected ones.
  std::optional<identity::SpiffeId> endpoint_id;
  if (!choice->expected.empty()) endpoint_id = choice->expected.front();
  record.destination = RequestPeer::of(snapshot->workloadByUid(choice->endpoint_uid),
                                       std::move(endpoint_id), choice->address);
  record.upstream_host = choice->address;
  return choice;
}

}  // namespace warren::waypoint
