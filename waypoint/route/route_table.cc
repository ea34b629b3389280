#include "waypoint/route/route_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "common/http/query_string.h"
#include "waypoint/match/regex_matcher.h"

namespace warren::waypoint {
namespace {

// ---- compiled forms -----------------------------------------------------------------------

struct CompiledValue {
  ValueMatchType type = ValueMatchType::kExact;
  std::string value;
  std::optional<RegexMatcher> re;
  bool matches(std::string_view v) const {
    return type == ValueMatchType::kExact ? v == value : re->fullMatch(v);
  }
};

struct CompiledHeader {
  std::string name;  // lower-case
  CompiledValue value;
};

struct CompiledQuery {
  std::string name;
  CompiledValue value;
};

struct CompiledRule {
  std::shared_ptr<const RouteRef> ref;
  std::vector<RouteFilter> filters;
  std::vector<BackendRef> backends;
  std::vector<uint32_t> weights;  // backends' weights, in order (the weighted pick per request)
  uint64_t weight_total = 0;
  RouteTimeouts timeouts;
  std::optional<RouteRetry> retry;
};

// Precedence and tie-break keys shared by both route kinds; compared descending on `rank`
// (a tuple built per kind), then ascending on age, name, rule, match.
struct Order {
  int64_t created = 0;
  std::string route_key;  // "namespace/name"
  size_t rule_index = 0;
  size_t match_index = 0;
  auto tie() const { return std::tie(created, route_key, rule_index, match_index); }
};

struct HttpEntry {
  const CompiledRule* rule = nullptr;
  std::optional<uint16_t> port;  // from the parentRef
  PathMatchType path_type = PathMatchType::kPathPrefix;
  std::string path_value;  // prefixes without their trailing '/'
  std::optional<RegexMatcher> path_re;
  std::string prefix_as_written;  // for ReplacePrefixMatch
  std::vector<CompiledHeader> headers;
  std::vector<CompiledQuery> query;
  std::optional<std::string> method;
  Order order;

  auto rank() const {
    int path_rank = path_type == PathMatchType::kExact        ? 3
                    : path_type == PathMatchType::kPathPrefix ? 2
                                                              : 1;
    size_t len = path_type == PathMatchType::kRegularExpression ? path_re->pattern().size()
                                                                : path_value.size();
    return std::make_tuple(path_rank, len, method.has_value(), headers.size(), query.size());
  }
};

struct GrpcEntry {
  const CompiledRule* rule = nullptr;
  std::optional<uint16_t> port;
  std::optional<CompiledValue> service;
  std::optional<CompiledValue> method;
  std::vector<CompiledHeader> headers;
  Order order;

  auto rank() const {
    return std::make_tuple(service ? service->value.size() : 0, method ? method->value.size() : 0,
                           headers.size());
  }
};

template <class Entry>
void sortByPrecedence(std::vector<Entry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    auto ra = a.rank(), rb = b.rank();
    if (ra != rb) return ra > rb;
    return a.order.tie() < b.order.tie();
  });
}

// ---- building -----------------------------------------------------------------------------

class Builder {
 public:
  explicit Builder(std::vector<RouteDiagnostic>& diagnostics) : diagnostics_(diagnostics) {}

  void error(const RouteMeta& meta, std::string_view kind, std::string message) {
    diagnostics_.push_back(
        {fmt::format("{} {}/{}", kind, meta.namespace_, meta.name), std::move(message)});
  }

  Result<CompiledValue> value(ValueMatchType type, std::string_view v) {
    CompiledValue out;
    out.type = type;
    out.value.assign(v);
    if (type == ValueMatchType::kRegularExpression) {
      auto re = RegexMatcher::compile(v);
      if (!re) return fail(re.error());
      out.re = std::move(*re);
    }
    return out;
  }

  // Headers deduplicated by name: "only the first entry with an equivalent name MUST be
  // considered for a match".
  Result<std::vector<CompiledHeader>> headers(const std::vector<HeaderMatch>& in,
                                              const std::string& field) {
    std::vector<CompiledHeader> out;
    for (size_t i = 0; i < in.size(); ++i) {
      std::string name = toLowerAscii(in[i].name);
      if (name.empty() || name.front() == ':') {
        return fail(Error::invalid(
            fmt::format("{}.headers[{}].name: '{}' is not a header name", field, i, in[i].name)));
      }
      if (std::any_of(out.begin(), out.end(), [&](const auto& h) { return h.name == name; })) {
        continue;
      }
      auto v = value(in[i].type, in[i].value);
      if (!v) return fail(v.error().wrap(fmt::format("{}.headers[{}].value", field, i)));
      out.push_back({std::move(name), std::move(*v)});
    }
    return out;
  }

  static bool isMethod(std::string_view m) {
    static constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                    "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    return std::find(std::begin(kMethods), std::end(kMethods), m) != std::end(kMethods);
  }

  Result<HttpEntry> httpMatch(const HttpRouteMatch& m, const std::string& field) {
    HttpEntry e;
    e.path_type = m.path.type;
    if (m.path.type == PathMatchType::kRegularExpression) {
      auto re = RegexMatcher::compile(m.path.value);
      if (!re) return fail(re.error().wrap(field + ".path.value"));
      e.path_re = std::move(*re);
    } else {
      if (m.path.value.empty() || m.path.value.front() != '/') {
        return fail(Error::invalid(
            fmt::format("{}.path.value: '{}' must start with '/'", field, m.path.value)));
      }
      e.path_value = m.path.value;
      if (m.path.type == PathMatchType::kPathPrefix) {
        e.prefix_as_written = m.path.value;
        while (!e.path_value.empty() && e.path_value.back() == '/') e.path_value.pop_back();
      }
    }
    auto h = headers(m.headers, field);
    if (!h) return fail(h.error());
    e.headers = std::move(*h);
    for (size_t i = 0; i < m.query_params.size(); ++i) {
      const auto& q = m.query_params[i];
      if (q.name.empty()) {
        return fail(Error::invalid(fmt::format("{}.queryParams[{}].name is empty", field, i)));
      }
      if (std::any_of(e.query.begin(), e.query.end(),
                      [&](const auto& x) { return x.name == q.name; })) {
        continue;
      }
      auto v = value(q.type, q.value);
      if (!v) return fail(v.error().wrap(fmt::format("{}.queryParams[{}].value", field, i)));
      e.query.push_back({q.name, std::move(*v)});
    }
    if (m.method) {
      if (!isMethod(*m.method)) {
        return fail(
            Error::invalid(fmt::format("{}.method: unsupported value '{}'", field, *m.method)));
      }
      e.method = *m.method;
    }
    return e;
  }

  // Filter combinations the CRD rejects, checked again because a bad value must never reach
  // the data path as something else.
  Status checkFilters(const std::vector<RouteFilter>& filters, bool has_backends,
                      const std::vector<HttpRouteMatch>* matches, const std::string& field) {
    bool redirect = false, rewrite = false;
    for (size_t i = 0; i < filters.size(); ++i) {
      std::string f = fmt::format("{}.filters[{}]", field, i);
      const PathModifier* path = nullptr;
      if (const auto* r = std::get_if<RequestRedirect>(&filters[i])) {
        if (redirect) return fail(Error::invalid(f + ": RequestRedirect cannot be repeated"));
        redirect = true;
        static constexpr int kCodes[] = {301, 302, 303, 307, 308};
        if (std::find(std::begin(kCodes), std::end(kCodes), r->status_code) == std::end(kCodes)) {
          return fail(Error::invalid(fmt::format(
              "{}.requestRedirect.statusCode: unsupported value {}", f, r->status_code)));
        }
        if (r->scheme && *r->scheme != "http" && *r->scheme != "https") {
          return fail(Error::invalid(
              fmt::format("{}.requestRedirect.scheme: unsupported value '{}'", f, *r->scheme)));
        }
        if (r->path) path = &*r->path;
      } else if (const auto* w = std::get_if<UrlRewrite>(&filters[i])) {
        if (rewrite) return fail(Error::invalid(f + ": URLRewrite cannot be repeated"));
        rewrite = true;
        if (w->path) path = &*w->path;
      }
      if (path && path->type == PathModifierType::kReplacePrefixMatch) {
        bool one_prefix =
            matches && matches->size() <= 1 &&
            (matches->empty() || matches->front().path.type == PathMatchType::kPathPrefix);
        if (!one_prefix) {
          return fail(Error::invalid(
              f + ": ReplacePrefixMatch needs exactly one PathPrefix match on the rule"));
        }
      }
      if (path && path->type == PathModifierType::kReplaceFullPath &&
          (path->value.empty() || path->value.front() != '/')) {
        return fail(Error::invalid(f + ": replaceFullPath must start with '/'"));
      }
    }
    if (redirect && rewrite) {
      return fail(Error::invalid(field + ".filters: RequestRedirect and URLRewrite together"));
    }
    if (redirect && has_backends) {
      return fail(Error::invalid(field + ".filters: RequestRedirect with backendRefs"));
    }
    return ok();
  }

  Result<std::unique_ptr<CompiledRule>> rule(RouteRef ref, const std::vector<RouteFilter>& filters,
                                             const std::vector<BackendRef>& backends,
                                             const std::vector<HttpRouteMatch>* matches,
                                             const std::string& field) {
    WARREN_TRY(checkFilters(filters, !backends.empty(), matches, field));
    for (size_t b = 0; b < backends.size(); ++b) {
      WARREN_TRY(checkFilters(backends[b].filters, false, matches,
                              fmt::format("{}.backendRefs[{}]", field, b)));
    }
    auto r = std::make_unique<CompiledRule>();
    ref.text = ref.toString();
    r->ref = std::make_shared<const RouteRef>(std::move(ref));
    r->filters = filters;
    r->backends = backends;
    for (const auto& br : backends) r->weights.push_back(br.weight);
    r->weight_total = weightTotal(r->weights);
    return r;
  }

 private:
  std::vector<RouteDiagnostic>& diagnostics_;
};

Order orderOf(const RouteMeta& meta, size_t rule, size_t match) {
  return Order{meta.creation_timestamp, meta.namespace_ + "/" + meta.name, rule, match};
}

// ---- matching -----------------------------------------------------------------------------

bool pathMatches(const HttpEntry& e, std::string_view path) {
  switch (e.path_type) {
    case PathMatchType::kExact:
      return path == e.path_value;
    case PathMatchType::kPathPrefix:
      // Segment-aware: "/abc" matches "/abc", "/abc/", "/abc/def", never "/abcd".
      if (e.path_value.empty()) return true;  // "/"
      return path.starts_with(e.path_value) &&
             (path.size() == e.path_value.size() || path[e.path_value.size()] == '/');
    case PathMatchType::kRegularExpression:
      return e.path_re->fullMatch(path);
  }
  return false;
}

bool headersMatch(const std::vector<CompiledHeader>& wanted, const HeaderMap& headers) {
  std::string scratch;
  for (const auto& h : wanted) {
    auto v = headers.joinedView(h.name, scratch);
    if (!v || !h.value.matches(*v)) return false;
  }
  return true;
}

// Query parameters decoded once per request, on first need; the first value of a name counts.
class QueryParams {
 public:
  explicit QueryParams(std::string_view query) : query_(query) {}
  const std::string* first(const std::string& name) {
    if (!parsed_) parse();
    for (const auto& [k, v] : params_) {
      if (k == name) return &v;
    }
    return nullptr;
  }

 private:
  void parse() {
    parsed_ = true;
    for (const auto& [k, v] : http::splitQuery(query_)) {
      // A malformed escape is matched as written rather than dropped.
      auto dk = http::percentDecode(k, false);
      auto dv = http::percentDecode(v, false);
      params_.emplace_back(dk ? *dk : std::string(k), dv ? *dv : std::string(v));
    }
  }
  std::string_view query_;
  bool parsed_ = false;
  std::vector<std::pair<std::string, std::string>> params_;
};

bool httpEntryMatches(const HttpEntry& e, const HttpRequest& req, QueryParams& query) {
  if (!pathMatches(e, req.path)) return false;
  if (e.method && req.method != *e.method) return false;
  if (!headersMatch(e.headers, req.headers)) return false;
  for (const auto& q : e.query) {
    const std::string* v = query.first(q.name);
    if (!v || !q.value.matches(*v)) return false;
  }
  return true;
}

// "/pkg.Service/Method" -> {service, method}; anything else is not a gRPC method path.
std::optional<std::pair<std::string_view, std::string_view>> grpcMethod(std::string_view path) {
  if (path.size() < 4 || path.front() != '/') return std::nullopt;
  size_t slash = path.find('/', 1);
  if (slash == std::string_view::npos || slash == 1 || slash + 1 == path.size()) {
    return std::nullopt;
  }
  std::string_view method = path.substr(slash + 1);
  if (method.find('/') != std::string_view::npos) return std::nullopt;
  return std::make_pair(path.substr(1, slash - 1), method);
}

bool grpcEntryMatches(const GrpcEntry& e, const HttpRequest& req) {
  if (e.service || e.method) {
    auto sm = grpcMethod(req.path);
    if (!sm) return false;
    if (e.service && !e.service->matches(sm->first)) return false;
    if (e.method && !e.method->matches(sm->second)) return false;
  }
  return headersMatch(e.headers, req.headers);
}

// ---- executing a rule ---------------------------------------------------------------------

int grpcStatusFor(DirectResponse::Reason reason) {
  switch (reason) {
    case DirectResponse::Reason::kNoRouteMatched:
      return 12;  // UNIMPLEMENTED
    case DirectResponse::Reason::kUnsupportedFilter:
      return 13;  // INTERNAL
    default:
      return 14;  // UNAVAILABLE (GRPCRoute: invalid backends)
  }
}

DirectResponse directResponse(DirectResponse::Reason reason, bool grpc, std::string detail) {
  DirectResponse d;
  d.reason = reason;
  d.status = reason == DirectResponse::Reason::kNoRouteMatched ? 404 : 500;
  d.grpc_status = grpc ? grpcStatusFor(reason) : 0;
  d.detail = std::move(detail);
  return d;
}

BackendTarget serviceTarget(const BackendObjectRef& ref, uint16_t default_port) {
  return BackendTarget{BackendTarget::Kind::kService, ref.namespace_, ref.name,
                       ref.port.value_or(default_port)};
}

struct Execution {
  const HttpRequest& original;
  uint16_t listener_port;
  std::string_view matched_prefix;
  RouteRandom& random;

  HttpRequest request;  // the copy filters edit
  std::vector<HeaderModifier> response_edits;
  std::vector<BackendTarget> mirrors;
  std::optional<RedirectAction> redirect;
  std::optional<std::string> unsupported;

  void run(const std::vector<RouteFilter>& filters) {
    for (const auto& f : filters) {
      std::visit([&](const auto& x) { apply(x); }, f);
    }
  }
  void apply(const RequestHeaderModifierFilter& f) {
    applyHeaderModifier(request.headers, f.modifier);
  }
  void apply(const ResponseHeaderModifierFilter& f) { response_edits.push_back(f.modifier); }
  void apply(const RequestRedirect& r) {
    if (redirect) return;
    redirect = RedirectAction{r.status_code,
                              redirectLocation(r, original.scheme, original.host(), listener_port,
                                               original.path, original.query, matched_prefix)};
  }
  void apply(const UrlRewrite& w) {
    if (w.hostname) request.authority = *w.hostname;
    if (w.path) request.path = modifyPath(request.path, *w.path, matched_prefix);
  }
  void apply(const RequestMirror& m) {
    // An unresolved mirror backend "must be dropped" (HTTPRequestMirrorFilter.backendRef).
    if (!m.invalid_reason.empty() || m.fraction.denominator == 0) return;
    uint64_t point =
        m.fraction.numerator >= m.fraction.denominator ? 0 : random.below(m.fraction.denominator);
    if (mirrorSampled(m.fraction, point))
      mirrors.push_back(serviceTarget(m.backend, listener_port));
  }
  void apply(const ExtensionRefFilter& x) {
    if (!unsupported) unsupported = fmt::format("ExtensionRef {}/{} {}", x.group, x.kind, x.name);
  }
};

}  // namespace

// ---- the table ------------------------------------------------------------------------------

std::string RouteDiagnostic::toString() const { return fmt::format("{}: {}", route, message); }

struct RouteTable::Impl {
  struct ServiceRoutes {
    std::vector<HttpEntry> http;
    std::vector<GrpcEntry> grpc;
  };
  std::vector<std::unique_ptr<CompiledRule>> rules;
  std::map<ServiceKey, ServiceRoutes> services;
};

RouteTable::RouteTable() : impl_(std::make_unique<Impl>()) {}
RouteTable::~RouteTable() = default;

size_t RouteTable::ruleCount() const { return impl_->rules.size(); }

RouteTable::BuildResult RouteTable::build(const std::vector<HttpRoute>& http_routes,
                                          const std::vector<GrpcRoute>& grpc_routes) {
  BuildResult out;
  std::shared_ptr<RouteTable> table(new RouteTable());
  Impl& impl = *table->impl_;
  Builder b(out.diagnostics);

  auto parents = [&](const RouteMeta& meta, std::string_view kind) {
    if (meta.parent_refs.empty()) {
      b.error(meta, kind, "parentRefs: no Service parentRef: the route attaches to nothing");
    }
    return meta.parent_refs;
  };

  for (const auto& route : http_routes) {
    auto refs = parents(route.meta, "HTTPRoute");
    for (size_t ri = 0; ri < route.rules.size(); ++ri) {
      const auto& rule = route.rules[ri];
      std::string field = fmt::format("rules[{}]", ri);
      std::vector<HttpRouteMatch> matches = rule.matches;
      if (matches.empty()) matches.emplace_back();  // CRD default: PathPrefix "/"
      std::vector<HttpEntry> entries;
      Status st = ok();
      for (size_t mi = 0; mi < matches.size() && st; ++mi) {
        auto e = b.httpMatch(matches[mi], fmt::format("{}.matches[{}]", field, mi));
        if (!e) {
          st = fail(e.error());
          break;
        }
        e->order = orderOf(route.meta, ri, mi);
        entries.push_back(std::move(*e));
      }
      RouteRef ref{RouteRef::Kind::kHttpRoute, route.meta.namespace_, route.meta.name, ri,
                   rule.name, {}};
      auto compiled = st ? b.rule(ref, rule.filters, rule.backend_refs, &rule.matches, field)
                         : Result<std::unique_ptr<CompiledRule>>(std::unexpected(st.error()));
      if (!compiled) {
        b.error(route.meta, "HTTPRoute", compiled.error().message());
        continue;
      }
      (*compiled)->timeouts = rule.timeouts;
      (*compiled)->retry = rule.retry;
      for (const auto& parent : refs) {
        auto& svc = impl.services[ServiceKey{parent.namespace_, parent.name}];
        for (auto e : entries) {
          e.rule = compiled->get();
          e.port = parent.port;
          svc.http.push_back(std::move(e));
        }
      }
      impl.rules.push_back(std::move(*compiled));
    }
  }

  for (const auto& route : grpc_routes) {
    auto refs = parents(route.meta, "GRPCRoute");
    for (size_t ri = 0; ri < route.rules.size(); ++ri) {
      const auto& rule = route.rules[ri];
      std::string field = fmt::format("rules[{}]", ri);
      std::vector<GrpcRouteMatch> matches = rule.matches;
      if (matches.empty()) matches.emplace_back();  // "MUST match every gRPC request"
      std::vector<GrpcEntry> entries;
      std::optional<Error> err;
      for (size_t mi = 0; mi < matches.size() && !err; ++mi) {
        std::string mf = fmt::format("{}.matches[{}]", field, mi);
        GrpcEntry e;
        if (const auto& m = matches[mi].method) {
          if (!m->service && !m->method) {
            err = Error::invalid(mf + ".method: one of service or method must be set");
            break;
          }
          if (m->service) {
            auto v = b.value(m->type, *m->service);
            if (!v) {
              err = v.error().wrap(mf + ".method.service");
              break;
            }
            e.service = std::move(*v);
          }
          if (m->method) {
            auto v = b.value(m->type, *m->method);
            if (!v) {
              err = v.error().wrap(mf + ".method.method");
              break;
            }
            e.method = std::move(*v);
          }
        }
        auto h = b.headers(matches[mi].headers, mf);
        if (!h) {
          err = h.error();
          break;
        }
        e.headers = std::move(*h);
        e.order = orderOf(route.meta, ri, mi);
        entries.push_back(std::move(e));
      }
      for (size_t fi = 0; fi < rule.filters.size() && !err; ++fi) {
        if (std::holds_alternative<RequestRedirect>(rule.filters[fi]) ||
            std::holds_alternative<UrlRewrite>(rule.filters[fi])) {
          err = Error::invalid(fmt::format("{}.filters[{}]: not a GRPCRoute filter", field, fi));
        }
      }
      RouteRef ref{RouteRef::Kind::kGrpcRoute, route.meta.namespace_, route.meta.name, ri,
                   rule.name, {}};
      auto compiled = err ? Result<std::unique_ptr<CompiledRule>>(std::unexpected(*err))
                          : b.rule(ref, rule.filters, rule.backend_refs, nullptr, field);
      if (!compiled) {
        b.error(route.meta, "GRPCRoute", compiled.error().message());
        continue;
      }
      for (const auto& parent : refs) {
        auto& svc = impl.services[ServiceKey{parent.namespace_, parent.name}];
        for (auto e : entries) {
          e.rule = compiled->get();
          e.port = parent.port;
          svc.grpc.push_back(std::move(e));
        }
      }
      impl.rules.push_back(std::move(*compiled));
    }
  }

  for (auto& [key, svc] : impl.services) {
    sortByPrecedence(svc.http);
    sortByPrecedence(svc.grpc);
  }
  out.table = std::move(table);
  return out;
}

RouteDecision RouteTable::route(const RouteDestination& destination, const HttpRequest& request,
                                RouteRandom& random) const {
  RouteDecision decision;
  bool grpc = request.isGrpc();
  auto passthrough = [&](BackendTarget target) {
    ForwardAction f;
    f.backend = std::move(target);
    f.request = request;
    decision.action = std::move(f);
    return decision;
  };
  if (!destination.service) {
    return passthrough(
        BackendTarget{BackendTarget::Kind::kOriginalDestination, "", "", destination.port});
  }
  const ServiceKey& key = *destination.service;
  BackendTarget self{BackendTarget::Kind::kService, key.namespace_, key.name, destination.port};
  auto svc = impl_->services.find(key);
  if (svc == impl_->services.end()) return passthrough(self);

  auto applies = [&](const auto& e) { return !e.port || *e.port == destination.port; };
  bool any_http = std::any_of(svc->second.http.begin(), svc->second.http.end(), applies);
  bool any_grpc = std::any_of(svc->second.grpc.begin(), svc->second.grpc.end(), applies);
  if (!any_http && !any_grpc) return passthrough(self);
  bool use_grpc = grpc ? any_grpc : !any_http;

  const CompiledRule* rule = nullptr;
  std::string_view matched_prefix;
  if (use_grpc) {
    for (const auto& e : svc->second.grpc) {
      if (applies(e) && grpcEntryMatches(e, request)) {
        rule = e.rule;
        break;
      }
    }
  } else {
    QueryParams query(request.query);
    for (const auto& e : svc->second.http) {
      if (applies(e) && httpEntryMatches(e, request, query)) {
        rule = e.rule;
        matched_prefix = e.prefix_as_written;
        break;
      }
    }
  }
  if (!rule) {
    decision.action =
        directResponse(DirectResponse::Reason::kNoRouteMatched, grpc,
                       fmt::format("no rule matches {} {}", request.method, request.path));
    return decision;
  }
  decision.route = rule->ref;

  Execution x{request, destination.port, matched_prefix, random, request, {}, {}, {}, {}};
  x.run(rule->filters);
  auto finish = [&]() -> std::optional<RouteDecision> {
    if (x.unsupported) {
      decision.action = directResponse(DirectResponse::Reason::kUnsupportedFilter, grpc,
                                       *x.unsupported + " is not supported");
      return decision;
    }
    if (x.redirect) {
      decision.action = *x.redirect;
      return decision;
    }
    return std::nullopt;
  };
  if (auto done = finish()) return *done;

  if (rule->backends.empty()) {
    decision.action = directResponse(DirectResponse::Reason::kNoBackends, grpc,
                                     rule->ref->toString() + " has no backendRefs");
    return decision;
  }
  const uint64_t total = rule->weight_total;
  if (total == 0) {
    decision.action = directResponse(DirectResponse::Reason::kAllWeightsZero, grpc,
                                     rule->ref->toString() + ": every backendRef has weight 0");
    return decision;
  }
  const BackendRef& chosen = rule->backends[pickWeighted(rule->weights, random.below(total))];
  if (!chosen.invalid_reason.empty()) {
    decision.action = directResponse(DirectResponse::Reason::kInvalidBackend, grpc,
                                     fmt::format("backendRef {}/{}: {}", chosen.ref.namespace_,
                                                 chosen.ref.name, chosen.invalid_reason));
    return decision;
  }
  x.run(chosen.filters);
  if (auto done = finish()) return *done;

  ForwardAction f;
  f.backend = serviceTarget(chosen.ref, destination.port);
  f.request = std::move(x.request);
  f.response_header_edits = std::move(x.response_edits);
  f.mirrors = std::move(x.mirrors);
  f.timeouts = rule->timeouts;
  f.retry = rule->retry;
  decision.action = std::move(f);
  return decision;
}

}  // namespace warren::waypoint
