#include "agent/translate/route_translation.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "common/net/ip_address.h"

namespace warren::agent {
namespace {

namespace l7 = warren::l7::v1;

Condition accepted(std::string reason, std::string message, bool ok) {
  return {"Accepted", ok, std::move(reason), std::move(message)};
}

Condition resolvedRefs(std::string reason, std::string message, bool ok) {
  return {"ResolvedRefs", ok, std::move(reason), std::move(message)};
}

google::protobuf::Duration durationOf(std::chrono::milliseconds ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms.count() / 1000);
  d.set_nanos(static_cast<int32_t>((ms.count() % 1000) * 1'000'000));
  return d;
}

bool isServiceKind(const std::string& group, const std::string& kind) {
  return (group.empty() || group == "core") && kind == "Service";
}

// Why a backend reference does not resolve: {reason, message}; empty reason = it resolves.
std::pair<std::string, std::string> backendProblem(const ClusterSnapshot& snap, const Route& route,
                                                   const BackendObjectRef& ref) {
  const std::string what = ref.namespace_ + "/" + ref.name;
  if (!isServiceKind(ref.group, ref.kind))
    return {"InvalidKind", "backendRef " + (ref.group.empty() ? "" : ref.group + "/") + ref.kind +
                               " " + what + ": only Services are supported"};
  if (ref.namespace_ != route.meta.namespace_)
    return {"RefNotPermitted",
            "backendRef Service " + what +
                " is in another namespace (ReferenceGrant is not supported yet)"};
  auto svc = snap.services.find(what);
  if (svc == snap.services.end())
    return {"BackendNotFound", "backendRef Service " + what + " not found"};
  bool has_port = false;
  for (const auto& p : svc->second.ports) has_port |= ref.port && p.port == *ref.port;
  if (!has_port)
    return {"BackendNotFound", "backendRef Service " + what + " has no port " +
                                   (ref.port ? std::to_string(*ref.port) : std::string("?"))};
  return {};
}

std::string serviceKey(const ClusterSnapshot& snap, const TranslationContext& ctx,
                       const BackendObjectRef& ref) {
  auto svc = snap.services.find(ref.namespace_ + "/" + ref.name);
  if (svc != snap.services.end()) return ref.namespace_ + "/" + serviceHostname(ctx, svc->second);
  return ref.namespace_ + "/" + ref.name + "." + ref.namespace_ + ".svc." + ctx.cluster_domain;
}

void fillHeaderModifier(const HeaderModifier& m, l7::HeaderModifier* out) {
  for (const auto& h : m.set) {
    auto* o = out->add_set();
    o->set_name(h.name);
    o->set_value(h.value);
  }
  for (const auto& h : m.add) {
    auto* o = out->add_add();
    o->set_name(h.name);
    o->set_value(h.value);
  }
  for (const auto& r : m.remove) out->add_remove(r);
}

void fillPathModifier(const PathModifier& p, l7::PathModifier* out) {
  out->set_type(p.type == PathModifierType::kReplacePrefixMatch
                    ? l7::PathModifier::REPLACE_PREFIX_MATCH
                    : l7::PathModifier::REPLACE_FULL_PATH);
  out->set_value(p.value);
}

void fillBackend(const ClusterSnapshot& snap, const TranslationContext& ctx, const Route& route,
                 const BackendObjectRef& ref, l7::Backend* out);

void fillFilter(const ClusterSnapshot& snap, const TranslationContext& ctx, const Route& route,
                const RouteFilter& f, l7::Filter* out) {
  switch (f.type) {
    case FilterType::kRequestHeaderModifier:
      fillHeaderModifier(f.header_modifier, out->mutable_request_header_modifier());
      break;
    case FilterType::kResponseHeaderModifier:
      fillHeaderModifier(f.header_modifier, out->mutable_response_header_modifier());
      break;
    case FilterType::kRequestRedirect: {
      auto* r = out->mutable_request_redirect();
      r->set_scheme(f.redirect.scheme);
      r->set_hostname(f.redirect.hostname);
      if (f.redirect.path) fillPathModifier(*f.redirect.path, r->mutable_path());
      if (f.redirect.port) r->set_port(*f.redirect.port);
      r->set_status_code(static_cast<uint32_t>(f.redirect.status_code));
      break;
    }
    case FilterType::kUrlRewrite: {
      auto* r = out->mutable_url_rewrite();
      r->set_hostname(f.rewrite.hostname);
      if (f.rewrite.path) fillPathModifier(*f.rewrite.path, r->mutable_path());
      break;
    }
    case FilterType::kRequestMirror: {
      auto* m = out->mutable_request_mirror();
      fillBackend(snap, ctx, route, f.mirror.backend, m->mutable_backend());
      m->set_numerator(f.mirror.numerator);
      m->set_denominator(f.mirror.denominator);
      break;
    }
  }
}

void fillBackend(const ClusterSnapshot& snap, const TranslationContext& ctx, const Route& route,
                 const BackendObjectRef& ref, l7::Backend* out) {
  out->set_service(serviceKey(snap, ctx, ref));
  if (ref.port) out->set_port(*ref.port);
  auto [reason, message] = backendProblem(snap, route, ref);
  if (!reason.empty()) out->set_invalid(reason);
}

l7::RouteRule ruleProto(const ClusterSnapshot& snap, const TranslationContext& ctx,
                        const Route& route, size_t index) {
  const RouteRule& rule = route.rules[index];
  l7::RouteRule out;
  out.set_route(route.key());
  out.set_name(rule.name);
  out.set_index(static_cast<uint32_t>(index));
  for (const auto& f : rule.filters) fillFilter(snap, ctx, route, f, out.add_filters());
  for (const auto& b : rule.backend_refs) {
    auto* be = out.add_backends();
    fillBackend(snap, ctx, route, b.ref, be);
    be->set_weight(b.weight);
    for (const auto& f : b.filters) fillFilter(snap, ctx, route, f, be->add_filters());
  }
  if (rule.request_timeout) *out.mutable_request_timeout() = durationOf(*rule.request_timeout);
  if (rule.backend_request_timeout)
    *out.mutable_backend_request_timeout() = durationOf(*rule.backend_request_timeout);
  if (rule.retry) {
    auto* r = out.mutable_retry();
    for (uint32_t c : rule.retry->codes) r->add_codes(c);
    if (rule.retry->attempts) r->mutable_attempts()->set_value(*rule.retry->attempts);
    if (rule.retry->backoff) *r->mutable_backoff() = durationOf(*rule.retry->backoff);
  }
  return out;
}

l7::RouteMatch matchProto(const RouteMatch& m, uint32_t rule) {
  l7::RouteMatch out;
  out.set_rule(rule);
  auto* p = out.mutable_path();
  p->set_type(m.path.type == PathMatchType::kExact               ? l7::PathMatch::EXACT
              : m.path.type == PathMatchType::kRegularExpression ? l7::PathMatch::REGULAR_EXPRESSION
                                                                 : l7::PathMatch::PATH_PREFIX);
  p->set_value(m.path.value);
  auto values = [](const std::vector<ValueMatch>& in,
                   google::protobuf::RepeatedPtrField<l7::ValueMatch>* o) {
    for (const auto& v : in) {
      auto* x = o->Add();
      x->set_type(v.type == ValueMatchType::kRegularExpression ? l7::ValueMatch::REGULAR_EXPRESSION
                                                               : l7::ValueMatch::EXACT);
      x->set_name(v.name);
      x->set_value(v.value);
    }
  };
  values(m.headers, out.mutable_headers());
  values(m.query_params, out.mutable_query_params());
  out.set_method(m.method);
  return out;
}

// One match of one rule of one route attached to a port, for sorting.
struct MatchEntry {
  const Route* route;
  size_t rule;
  size_t match;
};

int pathRank(PathMatchType t) {
  switch (t) {
    case PathMatchType::kExact:
      return 3;
    case PathMatchType::kPathPrefix:
      return 2;
    case PathMatchType::kRegularExpression:
      return 1;
  }
  return 0;
}

// Gateway API precedence (HTTPRouteRule): true when `a` must be tried before `b`.
bool precedes(const MatchEntry& a, const MatchEntry& b) {
  const RouteMatch& ma = a.route->rules[a.rule].matches[a.match];
  const RouteMatch& mb = b.route->rules[b.rule].matches[b.match];
  auto key = [](const MatchEntry& e, const RouteMatch& m) {
    // Larger sorts first for the first five; then the older route, its name, rule, match.
    return std::make_tuple(
        -pathRank(m.path.type), -static_cast<long>(m.path.value.size()), m.method.empty() ? 1 : 0,
        -static_cast<long>(m.headers.size()), -static_cast<long>(m.query_params.size()),
        // "" (unknown creation time) sorts after any known time
        e.route->meta.creation_timestamp.empty() ? 1 : 0, e.route->meta.creation_timestamp,
        e.route->meta.namespace_ + "/" + e.route->meta.name, std::string(kindName(e.route->kind)),
        e.rule, e.match);
  };
  return key(a, ma) < key(b, mb);
}

bool portSelected(const ParentRef& ref, const k8s::ServicePort& port) {
  if (ref.port && *ref.port != port.port) return false;
  if (!ref.section_name.empty() && ref.section_name != port.name) return false;
  return true;
}

// Where a Service parentRef attaches, or why it does not.
Condition attachment(const ClusterSnapshot& snap, const ParentRef& ref) {
  const std::string what = ref.namespace_ + "/" + ref.name;
  auto svc = snap.services.find(what);
  if (svc == snap.services.end())
    return accepted("NoMatchingParent", "parent Service " + what + " not found", false);
  bool any_port = false;
  for (const auto& p : svc->second.ports) any_port |= portSelected(ref, p);
  if (!any_port)
    return accepted("NoMatchingParent",
                    "parent Service " + what + " has no port " +
                        (ref.port ? std::to_string(*ref.port) : "named '" + ref.section_name + "'"),
                    false);
  if (serviceWaypoint(snap, svc->second).empty())
    return accepted("NoMatchingParent",
                    "parent Service " + what +
                        " is not bound to a waypoint (label it or its namespace "
                        "warren.dev/use-waypoint=<waypoint>)",
                    false);
  return accepted("Accepted", "attached to the waypoint of Service " + what, true);
}

RouteStatus statusOf(const ClusterSnapshot& snap, const Route& route) {
  RouteStatus st;
  st.route = route.key();
  st.kind = route.kind;
  st.namespace_ = route.meta.namespace_;
  st.name = route.meta.name;
  // ResolvedRefs is about the route as a whole: the first backend that does not resolve.
  Condition refs = resolvedRefs("ResolvedRefs", "all backend references resolved", true);
  for (const auto& rule : route.rules) {
    std::vector<const BackendObjectRef*> refs_of_rule;
    for (const auto& b : rule.backend_refs) {
      refs_of_rule.push_back(&b.ref);
      for (const auto& f : b.filters)
        if (f.type == FilterType::kRequestMirror) refs_of_rule.push_back(&f.mirror.backend);
    }
    for (const auto& f : rule.filters)
      if (f.type == FilterType::kRequestMirror) refs_of_rule.push_back(&f.mirror.backend);
    for (const BackendObjectRef* r : refs_of_rule) {
      auto [reason, message] = backendProblem(snap, route, *r);
      if (!reason.empty() && refs.status) refs = resolvedRefs(reason, message, false);
    }
  }
  for (const ParentRef& ref : route.parent_refs) {
    if (ref.isService()) {
      st.parents.push_back({ref, {attachment(snap, ref), refs}});
    } else if (ref.isGateway() && snap.waypointGateway(ref.namespace_, ref.name)) {
      st.parents.push_back(
          {ref,
           {accepted("UnsupportedValue",
                     "routes attach to a Service (GAMMA), not to the waypoint Gateway " +
                         ref.namespace_ + "/" + ref.name,
                     false),
            refs}});
    }
  }
  return st;
}

// The parentRefs of a route that did not decode, as far as they parse (for its status).
std::vector<ParentRef> lenientParents(const k8s::Object& obj) {
  std::vector<ParentRef> out;
  k8s::Fields parents = k8s::Fields(obj, obj.node, "").child("spec").child("parentRefs");
  for (size_t i = 0; i < parents.size(); ++i) {
    auto ref = decodeParentRef(parents.item(i), obj.meta.namespace_);
    if (ref) out.push_back(std::move(*ref));
  }
  return out;
}

}  // namespace

std::string serviceWaypoint(const ClusterSnapshot& snap, const k8s::Service& svc) {
  if (isWaypointService(snap, svc)) return "";
  auto ref = waypointReference(snap, svc.meta);
  if (!ref) return "";
  if (const Gateway* g = snap.waypointGateway(ref->first, ref->second))
    if (!g->acceptsServiceTraffic()) return "";
  return ref->first + "/" + ref->second;
}

l7::Protocol portProtocol(const k8s::ServicePort& port) {
  auto classify = [](const std::string& p) -> std::optional<l7::Protocol> {
    if (p == "http" || p == "HTTP") return l7::HTTP1;
    if (p == "http2" || p == "HTTP2" || p == "h2c" || p == "kubernetes.io/h2c") return l7::HTTP2;
    if (p == "grpc" || p == "GRPC" || p == "grpc-web") return l7::GRPC;
    if (p == "tcp" || p == "TCP" || p == "tls" || p == "TLS" || p == "https" || p == "HTTPS" ||
        p == "mongo" || p == "mysql" || p == "redis")
      return l7::TCP;
    return std::nullopt;
  };
  if (!port.app_protocol.empty()) {
    if (auto p = classify(port.app_protocol)) return *p;
    return l7::PROTOCOL_UNSPECIFIED;
  }
  // Istio's port naming convention: "<protocol>[-<suffix>]".
  std::string prefix = port.name.substr(0, port.name.find('-'));
  if (auto p = classify(prefix)) return *p;
  return l7::PROTOCOL_UNSPECIFIED;
}

RouteTranslation translateRoutes(const ClusterSnapshot& snap, const TranslationContext& ctx) {
  RouteTranslation out;
  std::vector<const Route*> routes;
  for (const auto* m : {&snap.http_routes, &snap.grpc_routes})
    for (const auto& [key, r] : *m) routes.push_back(&r);

  for (const Route* r : routes) out.statuses[r->key()] = statusOf(snap, *r);
  for (const auto& [key, rejected] : snap.rejected) {
    const k8s::Object& obj = rejected.object;
    if (obj.kind != "HTTPRoute" && obj.kind != "GRPCRoute") continue;
    RouteStatus st;
    st.kind = obj.kind == "GRPCRoute" ? RouteKind::kGrpc : RouteKind::kHttp;
    st.route = key;
    st.namespace_ = obj.meta.namespace_;
    st.name = obj.meta.name;
    const bool has_last_good = (st.kind == RouteKind::kGrpc ? snap.grpc_routes : snap.http_routes)
                                   .contains(obj.meta.namespace_ + "/" + obj.meta.name);
    std::string message = rejected.error;
    if (has_last_good) message += " (the last accepted version stays in force)";
    for (const ParentRef& ref : lenientParents(obj)) {
      if (ref.isService() || (ref.isGateway() && snap.waypointGateway(ref.namespace_, ref.name)))
        st.parents.push_back({ref, {accepted("UnsupportedValue", message, false)}});
    }
    out.statuses[key] = std::move(st);
  }

  for (const auto& [svc_key, svc] : snap.services) {
    const std::string waypoint = serviceWaypoint(snap, svc);
    if (waypoint.empty()) continue;
    auto vip = net::IpAddress::parse(svc.cluster_ip);
    if (!vip) continue;  // headless / not allocated: no VIP to route
    l7::ServiceRoutes sr;
    sr.set_name(svc.meta.name);
    sr.set_namespace_(svc.meta.namespace_);
    sr.set_hostname(serviceHostname(ctx, svc));
    sr.add_addresses(vip->wireBytes());
    sr.set_waypoint(waypoint);
    for (const k8s::ServicePort& port : svc.ports) {
      l7::PortRoutes* pr = sr.add_ports();
      pr->set_port(port.port);
      pr->set_name(port.name);
      pr->set_protocol(portProtocol(port));
      std::vector<MatchEntry> entries;
      std::map<std::pair<std::string, size_t>, uint32_t> rule_index;
      for (const Route* r : routes) {
        bool attached = false;
        for (const ParentRef& ref : r->parent_refs) {
          if (!ref.isService() || ref.namespace_ != svc.meta.namespace_ ||
              ref.name != svc.meta.name || !portSelected(ref, port))
            continue;
          attached = true;
        }
        if (!attached) continue;
        for (size_t i = 0; i < r->rules.size(); ++i) {
          rule_index[{r->key(), i}] = static_cast<uint32_t>(pr->rules_size());
          *pr->add_rules() = ruleProto(snap, ctx, *r, i);
          for (size_t m = 0; m < r->rules[i].matches.size(); ++m) entries.push_back({r, i, m});
        }
      }
      pr->set_routes_attached(!entries.empty());
      std::stable_sort(entries.begin(), entries.end(), precedes);
      for (const MatchEntry& e : entries)
        *pr->add_matches() = matchProto(e.route->rules[e.rule].matches[e.match],
                                        rule_index[{e.route->key(), e.rule}]);
    }
    out.services[svc.meta.namespace_ + "/" + sr.hostname()] = std::move(sr);
  }
  return out;
}

}  // namespace warren::agent
