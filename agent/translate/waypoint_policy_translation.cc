#include "agent/translate/waypoint_policy_translation.h"

#include <algorithm>

#include "agent/translate/authorization_translation.h"
#include "agent/translate/route_translation.h"

namespace warren::agent {
namespace {

namespace l7 = warren::l7::v1;

constexpr const char* kGatewayGroup = "gateway.networking.k8s.io";

void copy(const std::vector<std::string>& from,
          google::protobuf::RepeatedPtrField<std::string>* to) {
  for (const auto& v : from) to->Add(std::string(v));
}

// serviceAccounts "ns/sa" or "sa" (the policy's namespace) as the principal they name.
void addAccounts(const std::vector<std::string>& accounts, const std::string& policy_ns,
                 const std::string& trust_domain,
                 google::protobuf::RepeatedPtrField<std::string>* to) {
  for (const auto& a : accounts) {
    auto slash = a.find('/');
    std::string ns = slash == std::string::npos ? policy_ns : a.substr(0, slash);
    std::string sa = slash == std::string::npos ? a : a.substr(slash + 1);
    to->Add(trust_domain + "/ns/" + ns + "/sa/" + sa);
  }
}

l7::AuthorizationPolicy authorizationOf(const AuthorizationPolicy& p, const std::string& td) {
  l7::AuthorizationPolicy out;
  out.set_namespace_(p.meta.namespace_);
  out.set_name(p.meta.name);
  out.set_action(p.action == "DENY"     ? l7::AuthorizationPolicy::DENY
                 : p.action == "AUDIT"  ? l7::AuthorizationPolicy::AUDIT
                 : p.action == "CUSTOM" ? l7::AuthorizationPolicy::CUSTOM
                                        : l7::AuthorizationPolicy::ALLOW);
  out.set_provider(p.provider);
  out.set_dry_run(p.dry_run);
  for (const AuthzRule& r : p.rules) {
    l7::Rule* rule = out.add_rules();
    for (const AuthzSource& s : r.from) {
      l7::Source* src = rule->add_from();
      copy(s.principals, src->mutable_principals());
      addAccounts(s.service_accounts, p.meta.namespace_, td, src->mutable_principals());
      copy(s.not_principals, src->mutable_not_principals());
      addAccounts(s.not_service_accounts, p.meta.namespace_, td, src->mutable_not_principals());
      copy(s.request_principals, src->mutable_request_principals());
      copy(s.not_request_principals, src->mutable_not_request_principals());
      copy(s.namespaces, src->mutable_namespaces());
      copy(s.not_namespaces, src->mutable_not_namespaces());
      copy(s.ip_blocks, src->mutable_ip_blocks());
      copy(s.not_ip_blocks, src->mutable_not_ip_blocks());
      copy(s.remote_ip_blocks, src->mutable_remote_ip_blocks());
      copy(s.not_remote_ip_blocks, src->mutable_not_remote_ip_blocks());
    }
    for (const AuthzOperation& o : r.to) {
      l7::Operation* op = rule->add_to();
      copy(o.hosts, op->mutable_hosts());
      copy(o.not_hosts, op->mutable_not_hosts());
      copy(o.ports, op->mutable_ports());
      copy(o.not_ports, op->mutable_not_ports());
      copy(o.methods, op->mutable_methods());
      copy(o.not_methods, op->mutable_not_methods());
      copy(o.paths, op->mutable_paths());
      copy(o.not_paths, op->mutable_not_paths());
    }
    for (const AuthzCondition& c : r.when) {
      l7::Condition* w = rule->add_when();
      w->set_key(c.key);
      copy(c.values, w->mutable_values());
      copy(c.not_values, w->mutable_not_values());
    }
  }
  return out;
}

l7::RequestAuthentication authenticationOf(const RequestAuthentication& ra) {
  l7::RequestAuthentication out;
  out.set_namespace_(ra.meta.namespace_);
  out.set_name(ra.meta.name);
  for (const JwtRuleSpec& r : ra.jwt_rules) {
    l7::JwtRule* j = out.add_jwt_rules();
    j->set_issuer(r.issuer);
    copy(r.audiences, j->mutable_audiences());
    j->set_jwks(r.jwks);
    j->set_jwks_uri(r.jwks_uri);
    for (const auto& [name, prefix] : r.from_headers) {
      auto* h = j->add_from_headers();
      h->set_name(name);
      h->set_prefix(prefix);
    }
    copy(r.from_params, j->mutable_from_params());
    copy(r.from_cookies, j->mutable_from_cookies());
    j->set_forward_original_token(r.forward_original_token);
    for (const auto& [header, claim] : r.output_claim_to_headers) {
      auto* c = j->add_output_claim_to_headers();
      c->set_header(header);
      c->set_claim(claim);
    }
    j->set_output_payload_to_header(r.output_payload_to_header);
  }
  return out;
}

void setDuration(std::chrono::milliseconds d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / 1000);
  out->set_nanos(static_cast<int32_t>((d.count() % 1000) * 1000000));
}

l7::TrafficPolicy trafficOf(const TrafficPolicy& tp) {
  l7::TrafficPolicy out;
  out.set_namespace_(tp.meta.namespace_);
  out.set_name(tp.meta.name);
  if (const auto& r = tp.local_rate_limit) {
    auto* rl = out.mutable_local_rate_limit();
    rl->set_max_tokens(r->max_tokens);
    rl->set_tokens_per_fill(r->tokens_per_fill);
    setDuration(r->fill_interval, rl->mutable_fill_interval());
    using Per = LocalRateLimitSpec::BucketPer;
    rl->set_bucket_per(r->bucket_per == Per::kRoute ? l7::LocalRateLimit::ROUTE
                       : r->bucket_per == Per::kSourcePrincipal
                           ? l7::LocalRateLimit::SOURCE_PRINCIPAL
                           : l7::LocalRateLimit::TARGET);
  }
  if (const auto& f = tp.fault) {
    auto* fault = out.mutable_fault();
    if (f->delay) {
      setDuration(f->delay->fixed_delay, fault->mutable_delay()->mutable_fixed_delay());
      fault->mutable_delay()->set_percentage(f->delay->percentage);
    }
    if (f->abort) {
      fault->mutable_abort()->set_http_status(f->abort->http_status);
      fault->mutable_abort()->set_percentage(f->abort->percentage);
    }
  }
  return out;
}

l7::DestinationPolicy destinationOf(const DestinationRule& dr) {
  l7::DestinationPolicy out;
  out.set_namespace_(dr.meta.namespace_);
  out.set_name(dr.meta.name);
  if (const auto& o = dr.outlier_detection) {
    auto* od = out.mutable_outlier_detection();
    od->set_consecutive_5xx_errors(o->consecutive_5xx_errors);
    od->set_consecutive_gateway_errors(o->consecutive_gateway_errors);
    setDuration(o->interval, od->mutable_interval());
    setDuration(o->base_ejection_time, od->mutable_base_ejection_time());
    od->set_max_ejection_percent(o->max_ejection_percent);
    od->set_min_health_percent(o->min_health_percent);
  }
  if (dr.max_requests > 0 || dr.max_connections > 0 || dr.max_pending_requests > 0) {
    auto* pool = out.mutable_connection_pool();
    pool->set_max_requests(dr.max_requests);
    pool->set_max_connections(dr.max_connections);
    pool->set_max_pending_requests(dr.max_pending_requests);
  }
  copy(dr.not_applied, out.mutable_not_applied());
  return out;
}

// Where one policy's targetRefs bind: waypoint key -> targets there; errors for the others.
struct Resolved {
  std::map<std::string, std::vector<l7::PolicyTarget>> by_waypoint;
  std::vector<std::string> errors;
};

Resolved resolve(const ClusterSnapshot& snap, const TranslationContext& ctx,
                 const std::string& policy_ns, const std::vector<PolicyTargetRef>& refs) {
  Resolved out;
  auto add = [&](const std::string& wp, l7::PolicyTarget t) {
    auto& list = out.by_waypoint[wp];
    for (const auto& have : list)
      if (have.SerializeAsString() == t.SerializeAsString()) return;
    list.push_back(std::move(t));
  };
  for (size_t i = 0; i < refs.size(); ++i) {
    const PolicyTargetRef& r = refs[i];
    const std::string ns = r.namespace_.empty() ? policy_ns : r.namespace_;
    const std::string where =
        "targetRefs[" + std::to_string(i) + "] " + r.kind + " " + ns + "/" + r.name + ": ";
    if (ns != policy_ns) {
      out.errors.push_back(where + "must be in the policy's namespace " + policy_ns);
      continue;
    }
    if (r.kind == "Gateway" && r.group == kGatewayGroup) {
      const Gateway* g = snap.waypointGateway(ns, r.name);
      if (!g) {
        out.errors.push_back(where + "no Gateway of class warren-waypoint by that name");
        continue;
      }
      add(ns + "/" + r.name, l7::PolicyTarget{});
    } else if (r.kind == "GatewayClass" && r.group == kGatewayGroup) {
      if (r.name != kWaypointGatewayClass || policy_ns != ctx.root_namespace) {
        out.errors.push_back(where + "only GatewayClass warren-waypoint, from the root namespace " +
                             ctx.root_namespace + ", binds (every waypoint)");
        continue;
      }
      for (const auto& [key, g] : snap.gateways)
        if (g.isWaypoint()) add(g.meta.namespace_ + "/" + g.meta.name, l7::PolicyTarget{});
    } else if (r.kind == "Service" && r.group.empty()) {
      auto svc = snap.services.find(ns + "/" + r.name);
      if (svc == snap.services.end()) {
        out.errors.push_back(where + "no such Service");
        continue;
      }
      std::string wp = serviceWaypoint(snap, svc->second);
      auto slash = wp.find('/');
      if (wp.empty() || !snap.waypointGateway(wp.substr(0, slash), wp.substr(slash + 1))) {
        out.errors.push_back(where +
                             "the Service has no waypoint (label it or its namespace "
                             "warren.dev/use-waypoint=<waypoint>); the policy is enforced nowhere");
        continue;
      }
      l7::PolicyTarget t;
      t.set_kind(l7::PolicyTarget::SERVICE);
      t.set_namespace_(ns);
      t.set_name(r.name);
      add(wp, std::move(t));
    } else {
      out.errors.push_back(where + "unsupported target kind (Gateway, GatewayClass, Service)");
    }
  }
  return out;
}

template <class Policy, class Fill>
void emit(WaypointPolicyTranslation& out, const ClusterSnapshot& snap,
          const TranslationContext& ctx, const std::string& kind, const Policy& p, Fill fill) {
  const std::string id = kind + "/" + p.meta.namespace_ + "/" + p.meta.name;
  Resolved r = resolve(snap, ctx, p.meta.namespace_, p.target_refs);
  PolicyBinding& b = out.bindings[id];
  b.errors = std::move(r.errors);
  for (auto& [wp, targets] : r.by_waypoint) {
    b.waypoints.push_back(wp);
    l7::WaypointPolicy res;
    res.set_waypoint(wp);
    fill(res, targets);
    out.resources[wp + "/" + id] = std::move(res);
  }
}

}  // namespace

WaypointPolicyTranslation translateWaypointPolicies(const ClusterSnapshot& snap,
                                                    const TranslationContext& ctx) {
  WaypointPolicyTranslation out;
  for (const auto& [key, ap] : snap.authorization_policies) {
    if (ap.target_refs.empty()) continue;
    l7::AuthorizationPolicy body = authorizationOf(ap, ctx.trust_domain);
    emit(out, snap, ctx, "AuthorizationPolicy", ap,
         [&](l7::WaypointPolicy& res, const std::vector<l7::PolicyTarget>& targets) {
           *res.mutable_authorization() = body;
           for (const auto& t : targets) *res.mutable_authorization()->add_targets() = t;
         });
  }
  for (const auto& [key, ra] : snap.request_authentications) {
    if (ra.target_refs.empty()) {
      // Istio ambient: RequestAuthentication needs a waypoint, bound by targetRefs.
      out.bindings["RequestAuthentication/" + key].errors.push_back(
          "no targetRefs: RequestAuthentication is enforced by waypoints only; attach it with "
          "targetRefs to a warren-waypoint Gateway or a Service");
      continue;
    }
    l7::RequestAuthentication body = authenticationOf(ra);
    emit(out, snap, ctx, "RequestAuthentication", ra,
         [&](l7::WaypointPolicy& res, const std::vector<l7::PolicyTarget>& targets) {
           *res.mutable_authentication() = body;
           for (const auto& t : targets) *res.mutable_authentication()->add_targets() = t;
         });
  }
  for (const auto& [key, tp] : snap.traffic_policies) {
    if (tp.target_refs.empty()) {
      out.bindings["TrafficPolicy/" + key].errors.push_back(
          "no targetRefs: a TrafficPolicy is enforced by waypoints only; attach it with "
          "targetRefs to a warren-waypoint Gateway or a Service");
      continue;
    }
    l7::TrafficPolicy body = trafficOf(tp);
    emit(out, snap, ctx, "TrafficPolicy", tp,
         [&](l7::WaypointPolicy& res, const std::vector<l7::PolicyTarget>& targets) {
           *res.mutable_traffic() = body;
           for (const auto& t : targets) *res.mutable_traffic()->add_targets() = t;
         });
  }
  // A DestinationRule binds to the waypoint of the Service its host (or targetRefs) names; a
  // Service without a waypoint is ztunnel's alone, which applies no trafficPolicy: reported.
  for (const auto& [key, dr] : snap.destination_rules) {
    l7::DestinationPolicy body = destinationOf(dr);
    emit(out, snap, ctx, "DestinationRule", dr,
         [&](l7::WaypointPolicy& res, const std::vector<l7::PolicyTarget>& targets) {
           *res.mutable_destination() = body;
           for (const auto& t : targets) *res.mutable_destination()->add_targets() = t;
         });
  }
  return out;
}

}  // namespace warren::agent
