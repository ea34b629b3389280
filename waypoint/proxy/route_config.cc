#include "waypoint/proxy/route_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <variant>

#include "waypoint/resilience/retry_policy.h"

namespace warren::waypoint {
namespace {

namespace l7 = warren::l7::v1;

std::chrono::milliseconds millis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1'000'000);
}

ValueMatchType valueType(l7::ValueMatch::Type t) {
  return t == l7::ValueMatch::REGULAR_EXPRESSION ? ValueMatchType::kRegularExpression
                                                 : ValueMatchType::kExact;
}

HttpRouteMatch convertMatch(const l7::RouteMatch& m) {
  HttpRouteMatch out;
  switch (m.path().type()) {
    case l7::PathMatch::EXACT:
      out.path.type = PathMatchType::kExact;
      break;
    case l7::PathMatch::REGULAR_EXPRESSION:
      out.path.type = PathMatchType::kRegularExpression;
      break;
    default:
      out.path.type = PathMatchType::kPathPrefix;
  }
  out.path.value = m.has_path() ? m.path().value() : "/";
  if (out.path.value.empty() && out.path.type == PathMatchType::kPathPrefix) out.path.value = "/";
  for (const auto& h : m.headers())
    out.headers.push_back({valueType(h.type()), h.name(), h.value()});
  for (const auto& q : m.query_params())
    out.query_params.push_back({valueType(q.type()), q.name(), q.value()});
  if (!m.method().empty()) out.method = m.method();
  return out;
}

HeaderModifier convertModifier(const l7::HeaderModifier& m) {
  HeaderModifier out;
  for (const auto& h : m.set()) out.set.push_back({h.name(), h.value()});
  for (const auto& h : m.add()) out.add.push_back({h.name(), h.value()});
  for (const auto& r : m.remove()) out.remove.push_back(r);
  return out;
}

PathModifier convertPath(const l7::PathModifier& p) {
  return {p.type() == l7::PathModifier::REPLACE_PREFIX_MATCH ? PathModifierType::kReplacePrefixMatch
                                                             : PathModifierType::kReplaceFullPath,
          p.value()};
}

// "<ns>/<hostname>" -> {ns, first label of the hostname}.
BackendObjectRef backendRef(const std::string& service, uint32_t port) {
  BackendObjectRef ref;
  auto slash = service.find('/');
  ref.namespace_ = slash == std::string::npos ? "" : service.substr(0, slash);
  std::string host = slash == std::string::npos ? service : service.substr(slash + 1);
  ref.name = host.substr(0, host.find('.'));
  if (port > 0 && port <= 65535) ref.port = static_cast<uint16_t>(port);
  return ref;
}

RouteFilter convertFilter(const l7::Filter& f) {
  switch (f.filter_case()) {
    case l7::Filter::kRequestHeaderModifier:
      return RequestHeaderModifierFilter{convertModifier(f.request_header_modifier())};
    case l7::Filter::kResponseHeaderModifier:
      return ResponseHeaderModifierFilter{convertModifier(f.response_header_modifier())};
    case l7::Filter::kRequestRedirect: {
      const auto& r = f.request_redirect();
      RequestRedirect out;
      if (!r.scheme().empty()) out.scheme = r.scheme();
      if (!r.hostname().empty()) out.hostname = r.hostname();
      if (r.has_path()) out.path = convertPath(r.path());
      if (r.port() > 0 && r.port() <= 65535) out.port = static_cast<uint16_t>(r.port());
      if (r.status_code() != 0) out.status_code = static_cast<int>(r.status_code());
      return out;
    }
    case l7::Filter::kUrlRewrite: {
      const auto& r = f.url_rewrite();
      UrlRewrite out;
      if (!r.hostname().empty()) out.hostname = r.hostname();
      if (r.has_path()) out.path = convertPath(r.path());
      return out;
    }
    case l7::Filter::kRequestMirror: {
      const auto& m = f.request_mirror();
      RequestMirror out;
      out.backend = backendRef(m.backend().service(), m.backend().port());
      out.invalid_reason = m.backend().invalid();
      if (m.denominator() > 0) out.fraction = {m.numerator(), m.denominator()};
      return out;
    }
    case l7::Filter::FILTER_NOT_SET:
      break;
  }
  // An empty filter the agent never sends: fail closed, as an unknown filter must.
  return ExtensionRefFilter{"", "", "unset"};
}

HttpRouteRule convertRule(const l7::RouteRule& r) {
  HttpRouteRule out;
  if (!r.name().empty()) out.name = r.name();
  for (const auto& f : r.filters()) out.filters.push_back(convertFilter(f));
  for (const auto& b : r.backends()) {
    BackendRef ref;
    ref.ref = backendRef(b.service(), b.port());
    ref.weight = b.weight();
    ref.invalid_reason = b.invalid();
    for (const auto& f : b.filters()) ref.filters.push_back(convertFilter(f));
    out.backend_refs.push_back(std::move(ref));
  }
  if (r.has_request_timeout()) out.timeouts.request = millis(r.request_timeout());
  if (r.has_backend_request_timeout())
    out.timeouts.backend_request = millis(r.backend_request_timeout());
  if (r.has_retry()) {
    RouteRetry retry;
    if (r.retry().has_attempts()) retry.attempts = r.retry().attempts().value();
    for (uint32_t c : r.retry().codes()) retry.codes.push_back(static_cast<int>(c));
    if (r.retry().has_backoff()) retry.backoff = millis(r.retry().backoff());
    out.retry = std::move(retry);
  }
  return out;
}

PortProtocol protocolOf(l7::Protocol p) {
  switch (p) {
    case l7::HTTP1:
      return PortProtocol::kHttp1;
    case l7::HTTP2:
      return PortProtocol::kHttp2;
    case l7::GRPC:
      return PortProtocol::kGrpc;
    case l7::TCP:
      return PortProtocol::kTcp;
    default:
      return PortProtocol::kUnspecified;
  }
}

// GRPCRoute matches arrive as path matches (the agent's decodeGrpcMatches: a call is POST
// /<service>/<method>): Exact "/S/M"; PathPrefix "/S" (service only); RegularExpression
// "/[^/]+/M" (method only), or "/(S)/(M)" for a RegularExpression method match, "[^/]+" standing
// for an unset side. Turned back into GRPCMethodMatch, so the GRPCRoute's own precedence and
// kind apply (gRPC requests use GRPCRoutes, never merged with HTTPRoutes).
GrpcRouteMatch grpcMatch(const HttpRouteMatch& m) {
  GrpcRouteMatch out;
  out.headers = m.headers;
  const std::string& v = m.path.value;
  constexpr std::string_view kAny = "[^/]+";
  switch (m.path.type) {
    case PathMatchType::kExact: {
      auto slash = v.rfind('/');
      if (slash != std::string::npos && slash > 0)
        out.method =
            GrpcMethodMatch{ValueMatchType::kExact, v.substr(1, slash - 1), v.substr(slash + 1)};
      break;
    }
    case PathMatchType::kPathPrefix:
      if (v.size() > 1) out.method = GrpcMethodMatch{ValueMatchType::kExact, v.substr(1), {}};
      break;
    case PathMatchType::kRegularExpression: {
      std::string any_service = "/" + std::string(kAny) + "/";
      auto mid = v.rfind(")/(");
      if (v.starts_with("/(") && v.ends_with(")") && mid != std::string::npos) {
        GrpcMethodMatch g{ValueMatchType::kRegularExpression, {}, {}};
        std::string svc = v.substr(2, mid - 2), meth = v.substr(mid + 3, v.size() - mid - 4);
        if (svc != kAny) g.service = svc;
        if (meth != kAny) g.method = meth;
        out.method = g;
      } else if (v.starts_with(any_service)) {
        out.method = GrpcMethodMatch{ValueMatchType::kExact, {}, v.substr(any_service.size())};
      }
      break;
    }
  }
  return out;
}

// One route as the rules name it, gathered over every Service port it is attached to.
struct RouteBuilder {
  bool grpc = false;  // a GRPCRoute
  HttpRoute route;
  std::map<uint32_t, HttpRouteRule> rules;  // by rule index
};

}  // namespace

const char* toString(PortProtocol p) {
  switch (p) {
    case PortProtocol::kHttp1:
      return "HTTP1";
    case PortProtocol::kHttp2:
      return "HTTP2";
    case PortProtocol::kGrpc:
      return "GRPC";
    case PortProtocol::kTcp:
      return "TCP";
    case PortProtocol::kUnspecified:
      break;
  }
  return "UNSPECIFIED";
}

std::shared_ptr<const RouteConfig> RouteConfig::build(
    const std::map<std::string, l7::ServiceRoutes>& resources, uint64_t version) {
  auto cfg = std::shared_ptr<RouteConfig>(new RouteConfig());
  cfg->version_ = version;
  std::map<std::string, RouteBuilder> routes;  // "<ns>/<name>"
  std::set<std::string> grpc_reported;
  for (const auto& [resource, sr] : resources) {
    ServiceConfig svc;
    svc.key = sr.namespace_() + "/" + sr.hostname();
    svc.namespace_ = sr.namespace_();
    svc.name = sr.name();
    svc.hostname = sr.hostname();
    svc.waypoint = sr.waypoint();
    for (const auto& a : sr.addresses()) {
      auto ip = net::IpAddress::fromBytes(a);
      if (!ip) {
        cfg->diagnostics_.push_back({"Service " + svc.key, "addresses: " + ip.error().message()});
        continue;
      }
      svc.vips.push_back(*ip);
      cfg->by_vip_[*ip] = svc.key;
    }
    cfg->service_keys_[svc.namespace_ + "/" + svc.name] = svc.key;
    for (const auto& pr : sr.ports()) {
      if (pr.port() == 0 || pr.port() > 65535) {
        cfg->diagnostics_.push_back(
            {"Service " + svc.key, fmt::format("ports: port {} is out of range", pr.port())});
        continue;
      }
      auto port = static_cast<uint16_t>(pr.port());
      svc.ports[port] = {port, pr.name(), protocolOf(pr.protocol()), pr.routes_attached()};
      for (int j = 0; j < pr.rules_size(); ++j) {
        const l7::RouteRule& rule = pr.rules(j);
        // "HTTPRoute/<ns>/<name>"
        const std::string& ref = rule.route();
        auto s1 = ref.find('/');
        auto s2 = s1 == std::string::npos ? s1 : ref.find('/', s1 + 1);
        if (s2 == std::string::npos) {
          cfg->diagnostics_.push_back({ref, "route: not <Kind>/<namespace>/<name>"});
          continue;
        }
        std::string kind = ref.substr(0, s1);
        std::string ns = ref.substr(s1 + 1, s2 - s1 - 1);
        std::string name = ref.substr(s2 + 1);
        if (kind != "HTTPRoute" && kind != "GRPCRoute") {
          if (grpc_reported.insert(ref).second)
            cfg->diagnostics_.push_back({ref, "route: unknown kind " + kind});
          continue;
        }
        RouteBuilder& b = routes[ref];
        b.grpc = kind == "GRPCRoute";
        b.route.meta.namespace_ = ns;
        b.route.meta.name = name;
        ServiceParentRef parent{svc.namespace_, svc.name, port};
        bool have = false;
        for (const auto& p : b.route.meta.parent_refs)
          have |= p.namespace_ == parent.namespace_ && p.name == parent.name && p.port == port;
        if (!have) b.route.meta.parent_refs.push_back(parent);
        if (b.rules.contains(rule.index())) continue;  // the same rule, seen on another port
        HttpRouteRule converted = convertRule(rule);
        for (const auto& m : pr.matches())
          if (m.rule() == static_cast<uint32_t>(j)) converted.matches.push_back(convertMatch(m));
        b.rules.emplace(rule.index(), std::move(converted));
      }
    }
    cfg->services_[svc.key] = std::move(svc);
  }
  for (auto& [key, b] : routes) {
    for (auto& [index, rule] : b.rules) b.route.rules.push_back(std::move(rule));
    if (!b.grpc) {
      cfg->http_routes_.push_back(std::move(b.route));
      continue;
    }
    GrpcRoute g;
    g.meta = std::move(b.route.meta);
    for (auto& r : b.route.rules) {
      GrpcRouteRule rule;
      rule.name = std::move(r.name);
      for (const auto& m : r.matches) rule.matches.push_back(grpcMatch(m));
      rule.filters = std::move(r.filters);
      rule.backend_refs = std::move(r.backend_refs);
      g.rules.push_back(std::move(rule));
    }
    cfg->grpc_routes_.push_back(std::move(g));
  }
  auto built = RouteTable::build(cfg->http_routes_, cfg->grpc_routes_);
  cfg->table_ = std::move(built.table);
  for (auto& d : built.diagnostics) cfg->diagnostics_.push_back(std::move(d));
  return cfg;
}

const ServiceConfig* RouteConfig::serviceByVip(const net::IpAddress& vip) const {
  auto it = by_vip_.find(vip);
  return it == by_vip_.end() ? nullptr : service(it->second);
}

const ServiceConfig* RouteConfig::service(const std::string& key) const {
  auto it = services_.find(key);
  return it == services_.end() ? nullptr : &it->second;
}

const mesh::Service* serviceByKey(const mesh::StateSnapshot& snapshot, std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return nullptr;
  return snapshot.serviceByHostname(key.substr(0, slash), key.substr(slash + 1));
}

std::string RouteConfig::serviceKey(const std::string& namespace_, const std::string& name) const {
  auto it = service_keys_.find(namespace_ + "/" + name);
  if (it != service_keys_.end()) return it->second;
  return namespace_ + "/" + name + "." + namespace_ + ".svc.cluster.local";
}

namespace {

nlohmann::json parentsJson(const RouteMeta& meta) {
  nlohmann::json parents = nlohmann::json::array();
  for (const auto& p : meta.parent_refs)
    parents.push_back(fmt::format("{}/{}:{}", p.namespace_, p.name, p.port ? *p.port : 0));
  return parents;
}

}  // namespace

nlohmann::json RouteConfig::toJson() const {
  nlohmann::json services = nlohmann::json::array();
  for (const auto& [key, s] : services_) {
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& [p, pc] : s.ports)
      ports.push_back({{"port", p},
                       {"name", pc.name},
                       {"protocol", toString(pc.protocol)},
                       {"routes_attached", pc.routes_attached}});
    nlohmann::json vips = nlohmann::json::array();
    for (const auto& v : s.vips) vips.push_back(v.toString());
    services.push_back({{"key", key}, {"waypoint", s.waypoint}, {"vips", vips}, {"ports", ports}});
  }
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& r : http_routes_) {
    nlohmann::json parents = parentsJson(r.meta);
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& rule : r.rules) {
      nlohmann::json matches = nlohmann::json::array();
      for (const auto& m : rule.matches) {
        const char* type = m.path.type == PathMatchType::kExact        ? "Exact"
                           : m.path.type == PathMatchType::kPathPrefix ? "PathPrefix"
                                                                       : "RegularExpression";
        nlohmann::json headers = nlohmann::json::array();
        for (const auto& h : m.headers) headers.push_back(h.name + "=" + h.value);
        matches.push_back({{"path", std::string(type) + " " + m.path.value},
                           {"headers", headers},
                           {"method", m.method.value_or("")}});
      }
      nlohmann::json backends = nlohmann::json::array();
      for (const auto& b : rule.backend_refs)
        backends.push_back({{"service", b.ref.namespace_ + "/" + b.ref.name},
                            {"port", b.ref.port.value_or(0)},
                            {"weight", b.weight},
                            {"invalid", b.invalid_reason}});
      nlohmann::json mirrors = nlohmann::json::array();
      for (const auto& f : rule.filters)
        if (const auto* m = std::get_if<RequestMirror>(&f))
          mirrors.push_back(
              {{"service", m->backend.namespace_ + "/" + m->backend.name},
               {"port", m->backend.port.value_or(0)},
               {"fraction", fmt::format("{}/{}", m->fraction.numerator, m->fraction.denominator)},
               {"invalid", m->invalid_reason}});
      nlohmann::json out = {{"name", rule.name.value_or("")},
                            {"matches", matches},
                            {"filters", rule.filters.size()},
                            {"backends", backends},
                            {"mirrors", mirrors}};
      // Resilience as the proxy applies it (resilience/): durations in milliseconds.
      if (rule.timeouts.request) out["timeouts"]["request_ms"] = rule.timeouts.request->count();
      if (rule.timeouts.backend_request)
        out["timeouts"]["backend_request_ms"] = rule.timeouts.backend_request->count();
      if (rule.retry) {
        RetryPolicy p = RetryPolicy::from(rule.retry);
        out["retry"] = {
            {"attempts", p.retries}, {"codes", p.codes}, {"backoff_ms", p.base_backoff.count()}};
      }
      rules.push_back(std::move(out));
    }
    routes.push_back({{"route", "HTTPRoute/" + r.meta.namespace_ + "/" + r.meta.name},
                      {"parents", parents},
                      {"rules", rules}});
  }
  for (const auto& r : grpc_routes_) {
    nlohmann::json parents = parentsJson(r.meta);
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& rule : r.rules) {
      nlohmann::json matches = nlohmann::json::array();
      for (const auto& m : rule.matches)
        matches.push_back(m.method ? m.method->service.value_or("*") + "/" +
                                         m.method->method.value_or("*")
                                   : std::string("*/*"));
      rules.push_back({{"name", rule.name.value_or("")},
                       {"matches", matches},
                       {"filters", rule.filters.size()},
                       {"backends", rule.backend_refs.size()}});
    }
    routes.push_back({{"route", "GRPCRoute/" + r.meta.namespace_ + "/" + r.meta.name},
                      {"parents", parents},
                      {"rules", rules}});
  }
  nlohmann::json diags = nlohmann::json::array();
  for (const auto& d : diagnostics_) diags.push_back(d.toString());
  return {{"version", version_},
          {"services", services},
          {"routes", routes},
          {"accepted_rules", table_->ruleCount()},
          {"diagnostics", diags}};
}

}  // namespace warren::waypoint
