#include "waypoint/proxy/policy_config.h"

#include <fmt/format.h>

namespace warren::waypoint {
namespace {

namespace l7 = warren::l7::v1;

std::vector<std::string> list(const google::protobuf::RepeatedPtrField<std::string>& v) {
  return {v.begin(), v.end()};
}

std::vector<AuthzTarget> targetsOf(const google::protobuf::RepeatedPtrField<l7::PolicyTarget>& ts) {
  std::vector<AuthzTarget> out;
  for (const auto& t : ts) {
    if (t.kind() == l7::PolicyTarget::WAYPOINT) return {};  // the whole waypoint
    AuthzTarget a;
    a.kind = AuthzTarget::Kind::kService;
    a.service = ServiceKey{t.namespace_(), t.name()};
    out.push_back(std::move(a));
  }
  return out;
}

JwtRule jwtRuleOf(const l7::JwtRule& r, const FetchedJwks& fetched, const std::string& who,
                  std::vector<std::string>& diagnostics) {
  JwtRule j;
  j.issuer = r.issuer();
  j.audiences = list(r.audiences());
  if (!r.jwks().empty()) {
    auto keys = Jwks::parse(r.jwks());
    if (keys) {
      j.jwks = std::make_shared<const Jwks>(std::move(*keys));
    } else {
      diagnostics.push_back(fmt::format("{}: jwtRules issuer {}: jwks: {} (every token fails)", who,
                                        r.issuer(), keys.error().message()));
    }
  } else if (!r.jwks_uri().empty()) {
    if (auto it = fetched.find(r.jwks_uri()); it != fetched.end()) j.jwks = it->second;
  } else {
    diagnostics.push_back(fmt::format(
        "{}: jwtRules issuer {}: neither jwks nor jwksUri (every token fails)", who, r.issuer()));
  }
  for (const auto& h : r.from_headers()) j.from_headers.push_back({h.name(), h.prefix()});
  j.from_params = list(r.from_params());
  j.from_cookies = list(r.from_cookies());
  j.forward_original_token = r.forward_original_token();
  for (const auto& c : r.output_claim_to_headers())
    j.output_claim_to_headers.push_back({c.header(), c.claim()});
  j.output_payload_to_header = r.output_payload_to_header();
  return j;
}

nlohmann::json targetsJson(const google::protobuf::RepeatedPtrField<l7::PolicyTarget>& ts) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : ts)
    out.push_back(t.kind() == l7::PolicyTarget::WAYPOINT
                      ? std::string("waypoint")
                      : "Service " + t.namespace_() + "/" + t.name());
  return out;
}

std::chrono::nanoseconds nanosOf(const google::protobuf::Duration& d) {
  return std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos());
}

nlohmann::json trafficJson(const l7::TrafficPolicy& p) {
  nlohmann::json out = {{"policy", p.namespace_() + "/" + p.name()},
                        {"targets", targetsJson(p.targets())}};
  if (p.has_local_rate_limit()) {
    const auto& r = p.local_rate_limit();
    out["local_rate_limit"] = {
        {"max_tokens", r.max_tokens()},
        {"tokens_per_fill", r.tokens_per_fill()},
        {"fill_interval_ms",
         std::chrono::duration_cast<std::chrono::milliseconds>(nanosOf(r.fill_interval())).count()},
        {"bucket_per", l7::LocalRateLimit::BucketPer_Name(r.bucket_per())}};
  }
  if (p.has_fault()) {
    nlohmann::json f = nlohmann::json::object();
    if (p.fault().has_delay())
      f["delay"] = {{"fixed_delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                           nanosOf(p.fault().delay().fixed_delay()))
                                           .count()},
                    {"percentage", p.fault().delay().percentage()}};
    if (p.fault().has_abort())
      f["abort"] = {{"http_status", p.fault().abort().http_status()},
                    {"percentage", p.fault().abort().percentage()}};
    out["fault"] = std::move(f);
  }
  return out;
}

}  // namespace

TrafficRule trafficRuleOf(const l7::TrafficPolicy& p, const std::string& target,
                          std::vector<std::string>& diagnostics) {
  TrafficRule rule;
  rule.policy = p.namespace_() + "/" + p.name();
  rule.target = target;
  const std::string who = "TrafficPolicy " + rule.policy;
  if (p.has_local_rate_limit()) {
    const auto& r = p.local_rate_limit();
    auto interval = nanosOf(r.fill_interval());
    if (r.max_tokens() < 1 || r.tokens_per_fill() < 1 || interval.count() <= 0) {
      diagnostics.push_back(fmt::format(
          "{}: localRateLimit needs maxTokens >= 1, tokensPerFill >= 1 and a fillInterval > 0 "
          "(got {}, {}, {} ns): not applied",
          who, r.max_tokens(), r.tokens_per_fill(), interval.count()));
    } else {
      RateLimitRule rl;
      rl.bucket = {r.max_tokens(), r.tokens_per_fill(), interval};
      rl.per = r.bucket_per() == l7::LocalRateLimit::ROUTE ? RateLimitRule::BucketPer::kRoute
               : r.bucket_per() == l7::LocalRateLimit::SOURCE_PRINCIPAL
                   ? RateLimitRule::BucketPer::kSourcePrincipal
                   : RateLimitRule::BucketPer::kTarget;
      rule.rate_limit = rl;
    }
  }
  if (p.has_fault()) {
    FaultRule fault;
    if (p.fault().has_delay()) {
      const auto& d = p.fault().delay();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(nanosOf(d.fixed_delay()));
      if (ms.count() <= 0 || !(d.percentage() >= 0 && d.percentage() <= 100)) {
        diagnostics.push_back(fmt::format(
            "{}: fault.delay needs a fixedDelay > 0 and a percentage 0..100: not applied", who));
      } else {
        fault.delay = FaultRule::Delay{ms, percentToPerMillion(d.percentage())};
      }
    }
    if (p.fault().has_abort()) {
      const auto& a = p.fault().abort();
      if (a.http_status() < 200 || a.http_status() > 599 ||
          !(a.percentage() >= 0 && a.percentage() <= 100)) {
        diagnostics.push_back(fmt::format(
            "{}: fault.abort needs an httpStatus 200..599 and a percentage 0..100 (got {}): "
            "not applied",
            who, a.http_status()));
      } else {
        fault.abort = FaultRule::Abort{static_cast<int>(a.http_status()),
                                       percentToPerMillion(a.percentage())};
      }
    }
    if (fault.delay || fault.abort) rule.fault = fault;
  }
  return rule;
}

AuthzPolicy authzPolicyOf(const l7::AuthorizationPolicy& p) {
  AuthzPolicy a;
  a.namespace_ = p.namespace_();
  a.name = p.name();
  switch (p.action()) {
    case l7::AuthorizationPolicy::DENY:
      a.action = AuthzAction::kDeny;
      break;
    case l7::AuthorizationPolicy::AUDIT:
      a.action = AuthzAction::kAudit;
      break;
    case l7::AuthorizationPolicy::CUSTOM:
      a.action = AuthzAction::kCustom;
      break;
    default:
      a.action = AuthzAction::kAllow;
  }
  a.provider = p.provider();
  a.dry_run = p.dry_run();
  for (const auto& r : p.rules()) {
    AuthzRule rule;
    for (const auto& s : r.from()) {
      AuthzSource src;
      src.principals = list(s.principals());
      src.not_principals = list(s.not_principals());
      src.request_principals = list(s.request_principals());
      src.not_request_principals = list(s.not_request_principals());
      src.namespaces = list(s.namespaces());
      src.not_namespaces = list(s.not_namespaces());
      src.ip_blocks = list(s.ip_blocks());
      src.not_ip_blocks = list(s.not_ip_blocks());
      src.remote_ip_blocks = list(s.remote_ip_blocks());
      src.not_remote_ip_blocks = list(s.not_remote_ip_blocks());
      rule.from.push_back(std::move(src));
    }
    for (const auto& o : r.to()) {
      AuthzOperation op;
      op.hosts = list(o.hosts());
      op.not_hosts = list(o.not_hosts());
      op.ports = list(o.ports());
      op.not_ports = list(o.not_ports());
      op.methods = list(o.methods());
      op.not_methods = list(o.not_methods());
      op.paths = list(o.paths());
      op.not_paths = list(o.not_paths());
      rule.to.push_back(std::move(op));
    }
    for (const auto& c : r.when())
      rule.when.push_back({c.key(), list(c.values()), list(c.not_values())});
    a.rules.push_back(std::move(rule));
  }
  a.targets = targetsOf(p.targets());
  return a;
}

std::shared_ptr<const PolicyConfig> PolicyConfig::build(
    const std::map<std::string, l7::WaypointPolicy>& resources, const FetchedJwks& fetched,
    uint64_t version) {
  auto cfg = std::shared_ptr<PolicyConfig>(new PolicyConfig());
  cfg->version_ = version;
  std::vector<AuthzPolicy> policies;
  nlohmann::json authz_dump = nlohmann::json::array();
  nlohmann::json authn_dump = nlohmann::json::array();
  nlohmann::json traffic_dump = nlohmann::json::array();
  nlohmann::json destination_dump = nlohmann::json::array();
  std::map<ServiceKey, std::vector<TrafficRule>> own_traffic;
  // Per Service: its own rules, merged after the waypoint-wide ones below.
  std::map<ServiceKey, std::vector<JwtRule>> own;
  for (const auto& [name, res] : resources) {
    if (res.has_authorization()) {
      policies.push_back(authzPolicyOf(res.authorization()));
      const auto& p = res.authorization();
      authz_dump.push_back({{"policy", p.namespace_() + "/" + p.name()},
                            {"action", l7::AuthorizationPolicy::Action_Name(p.action())},
                            {"dry_run", p.dry_run()},
                            {"rules", p.rules_size()},
                            {"targets", targetsJson(p.targets())}});
    } else if (res.has_authentication()) {
      const auto& ra = res.authentication();
      const std::string who = "RequestAuthentication " + ra.namespace_() + "/" + ra.name();
      std::vector<JwtRule> rules;
      nlohmann::json rules_dump = nlohmann::json::array();
      for (const auto& r : ra.jwt_rules()) {
        rules.push_back(jwtRuleOf(r, fetched, who, cfg->diagnostics_));
        if (!r.jwks_uri().empty()) cfg->jwks_uris_.insert(r.jwks_uri());
        rules_dump.push_back({{"issuer", r.issuer()},
                              {"jwks", r.jwks().empty() ? r.jwks_uri() : "inline"},
                              {"keys", rules.back().jwks ? rules.back().jwks->keys().size() : 0}});
      }
      authn_dump.push_back({{"policy", ra.namespace_() + "/" + ra.name()},
                            {"targets", targetsJson(ra.targets())},
                            {"jwt_rules", rules_dump}});
      bool waypoint_wide = false;
      for (const auto& t : ra.targets()) waypoint_wide |= t.kind() == l7::PolicyTarget::WAYPOINT;
      for (const auto& t : ra.targets()) {
        if (waypoint_wide || t.kind() != l7::PolicyTarget::SERVICE) continue;
        auto& v = own[ServiceKey{t.namespace_(), t.name()}];
        v.insert(v.end(), rules.begin(), rules.end());
      }
      if (waypoint_wide || ra.targets().empty())
        cfg->waypoint_rules_.insert(cfg->waypoint_rules_.end(), rules.begin(), rules.end());
    } else if (res.has_traffic()) {
      const auto& tp = res.traffic();
      traffic_dump.push_back(trafficJson(tp));
      bool waypoint_wide = tp.targets().empty();
      for (const auto& t : tp.targets()) waypoint_wide |= t.kind() == l7::PolicyTarget::WAYPOINT;
      if (waypoint_wide) {
        cfg->waypoint_traffic_.push_back(trafficRuleOf(tp, "waypoint", cfg->diagnostics_));
        continue;
      }
      for (const auto& t : tp.targets()) {
        own_traffic[ServiceKey{t.namespace_(), t.name()}].push_back(
            trafficRuleOf(tp, "Service " + t.namespace_() + "/" + t.name(), cfg->diagnostics_));
      }
    } else if (res.has_destination()) {
      const auto& dp = res.destination();
      DestinationSettings s = destinationSettingsOf(dp, cfg->diagnostics_);
      nlohmann::json d = destinationSettingsJson(s);
      d["targets"] = targetsJson(dp.targets());
      destination_dump.push_back(std::move(d));
      for (const auto& t : dp.targets()) {
        if (t.kind() != l7::PolicyTarget::SERVICE) continue;
        auto [it, fresh] = cfg->destinations_.emplace(ServiceKey{t.namespace_(), t.name()}, s);
        if (!fresh)
          cfg->diagnostics_.push_back(fmt::format(
              "DestinationRule {}: Service {}/{} already has DestinationRule {}; not applied",
              s.policy, t.namespace_(), t.name(), it->second.policy));
      }
    } else {
      cfg->diagnostics_.push_back("resource " + name +
                                  ": neither authorization, authentication, traffic nor "
                                  "destination");
    }
  }
  for (auto& [svc, rules] : own) {
    auto& merged = cfg->service_rules_[svc];
    merged = cfg->waypoint_rules_;
    merged.insert(merged.end(), rules.begin(), rules.end());
  }
  for (auto& [svc, rules] : own_traffic) {
    auto& merged = cfg->service_traffic_[svc];
    merged = std::move(rules);
    merged.insert(merged.end(), cfg->waypoint_traffic_.begin(), cfg->waypoint_traffic_.end());
  }
  auto compiled = L7PolicySet::compile(policies);
  cfg->authz_ = std::move(compiled.set);
  for (const auto& d : compiled.diagnostics) cfg->diagnostics_.push_back(d.toString());
  cfg->empty_ = policies.empty() && cfg->waypoint_rules_.empty() && cfg->service_rules_.empty();
  cfg->dump_ = {{"version", version},
                {"authorization_policies", authz_dump},
                {"request_authentications", authn_dump},
                {"traffic_policies", traffic_dump},
                {"destination_rules", destination_dump},
                {"diagnostics", cfg->diagnostics_}};
  return cfg;
}

const std::vector<JwtRule>& PolicyConfig::jwtRules(const ServiceKey* service) const {
  if (service) {
    if (auto it = service_rules_.find(*service); it != service_rules_.end()) return it->second;
  }
  return waypoint_rules_;
}

const std::vector<TrafficRule>& PolicyConfig::trafficRules(const ServiceKey* service) const {
  if (service) {
    if (auto it = service_traffic_.find(*service); it != service_traffic_.end()) return it->second;
  }
  return waypoint_traffic_;
}

const DestinationSettings* PolicyConfig::destination(const ServiceKey& service) const {
  auto it = destinations_.find(service);
  return it == destinations_.end() ? nullptr : &it->second;
}

nlohmann::json PolicyConfig::toJson() const { return dump_; }

}  // namespace warren::waypoint
