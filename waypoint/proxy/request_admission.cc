#include "waypoint/proxy/request_admission.h"

#include <fmt/format.h>

#include "waypoint/route/route_filters.h"

namespace warren::waypoint {
namespace {

std::string shadowOf(const AuthzDecision& d) {
  if (!d.dry_run) return "";
  std::string out = d.dry_run->allowed ? "allowed" : "denied";
  if (!d.dry_run->policy.empty()) out += " " + std::string(d.dry_run->policy);
  return out;
}

std::string auditOf(const AuthzDecision& d) {
  std::string out;
  for (auto p : d.audited) out += (out.empty() ? "" : ",") + std::string(p);
  return out;
}

}  // namespace

Result<std::unique_ptr<RequestAdmission>> RequestAdmission::create(metrics::Registry& registry,
                                                                   Policies policies, Clock clock) {
  std::unique_ptr<RequestAdmission> a(new RequestAdmission());
  a->policies_ = std::move(policies);
  a->clock_ = std::move(clock);
  if (!a->clock_) a->clock_ = [] { return std::chrono::system_clock::now(); };
  auto decisions = registry.counter(
      "warren_waypoint_authz_decisions_total",
      "L7 AuthorizationPolicy decisions at the waypoint: allowed, denied, shadow_allowed and "
      "shadow_denied (dry-run policies), audited (AUDIT policies matched), by deciding policy",
      {"decision", "policy"});
  if (!decisions) return fail(decisions.error());
  auto jwt = registry.counter("warren_waypoint_jwt_authn_total",
                              "RequestAuthentication outcomes at the waypoint: no_token, "
                              "authenticated, rejected (answered 401)",
                              {"outcome"});
  if (!jwt) return fail(jwt.error());
  a->decisions_ = *decisions;
  a->jwt_ = *jwt;
  return a;
}

void RequestAdmission::count(const AuthzDecision& d) const {
  auto bump = [&](const char* decision, std::string_view policy) {
    if (auto c = decisions_->withLabels(
            {decision, policy.empty() ? std::string("none") : std::string(policy)}))
      (*c)->inc();
  };
  bump(d.allowed ? "allowed" : "denied", d.policy);
  if (d.dry_run) bump(d.dry_run->allowed ? "shadow_allowed" : "shadow_denied", d.dry_run->policy);
  for (auto p : d.audited) bump("audited", p);
}

std::optional<LocalReply> RequestAdmission::admit(HttpRequest& request,
                                                  const ConnectionInfo& connection,
                                                  const ServiceKey* service,
                                                  RequestRecord& record) const {
  std::shared_ptr<const PolicyConfig> cfg = policies_();
  if (!cfg || cfg->empty()) return std::nullopt;

  RequestAuthOutcome auth = authenticateRequest(cfg->jwtRules(service), request, clock_());
  const char* outcome = auth.kind == RequestAuthOutcome::Kind::kRejected        ? "rejected"
                        : auth.kind == RequestAuthOutcome::Kind::kAuthenticated ? "authenticated"
                                                                                : "no_token";
  if (auto c = jwt_->withLabels({outcome})) (*c)->inc();
  if (auth.kind == RequestAuthOutcome::Kind::kRejected) {
    // Envoy's jwt_authn answers before rbac runs: no authorization decision to record.
    record.response_code_details =
        fmt::format("jwt_authn_access_denied{{{}}}", toString(auth.failure->error));
    LocalReply reply;
    reply.status = RequestAuthOutcome::kRejectedStatus;
    reply.headers.emplace_back(
        "www-authenticate",
        auth.wwwAuthenticate("http://" + std::string(request.host()) + request.path));
    reply.body = auth.failure->message() + "\n";
    return reply;
  }
  if (auth.claims) record.authz.request_principal = auth.claims->principal;

  AuthzContext ctx(connection, &request, auth.claims ? &*auth.claims : nullptr);
  AuthzDecision d = cfg->authz().evaluate(service, ctx);
  count(d);
  // A decision worth logging: a policy decided, or ALLOW policies applied and none matched.
  if (!d.policy.empty() || !d.allowed) {
    record.authz.result = d.allowed ? "allowed" : "denied";
    record.authz.policy = std::string(d.policy);
  }
  record.authz.dry_run = shadowOf(d);
  record.authz.audit = auditOf(d);
  if (!d.allowed) {
    record.response_code_details =
        fmt::format("rbac_access_denied_matched_policy[{}]",
                    d.policy.empty() ? std::string_view("none") : d.policy);
    LocalReply reply;
    reply.status = AuthzDecision::kDeniedStatus;
    reply.body = std::string(AuthzDecision::kDeniedBody);
    return reply;
  }
  applyHeaderModifier(request.headers, auth.request_edits);
  return std::nullopt;
}

bool RequestAdmission::admitConnection(const ConnectionInfo& connection, const ServiceKey* service,
                                       std::string* why) const {
  std::shared_ptr<const PolicyConfig> cfg = policies_();
  if (!cfg || cfg->empty()) return true;
  AuthzContext ctx(connection, nullptr, nullptr);
  AuthzDecision d = cfg->authz().evaluate(service, ctx);
  count(d);
  if (!d.allowed && why)
    *why = fmt::format("{} ({})", toString(d.reason),
                       d.policy.empty() ? std::string_view("none") : d.policy);
  return d.allowed;
}

}  // namespace warren::waypoint
