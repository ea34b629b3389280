#include "agent/model/route_kinds.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace warren::agent {

using k8s::Fields;

namespace {

// Gateway API list limits (the schema's maxItems).
constexpr size_t kMaxParentRefs = 32, kMaxHostnames = 16, kMaxRules = 16;
constexpr size_t kMaxHttpMatches = 64, kMaxGrpcMatches = 8, kMaxHeaderMatches = 16;
constexpr size_t kMaxFilters = 16, kMaxBackendRefs = 16, kMaxModifierHeaders = 16;
constexpr int64_t kMaxWeight = 1'000'000;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// RFC 7230 token: what Gateway API allows in header and query parameter names.
bool isToken(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (std::isalnum(c)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

bool isHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$ : the characters Gateway API allows in
// Exact and PathPrefix values.
bool hasOnlyPathCharacters(const std::string& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (std::isalnum(c)) continue;
    if (std::string_view("-/._~!$&'()*+,;=:@").find(static_cast<char>(c)) != std::string_view::npos)
      continue;
    if (c == '%' && i + 2 < v.size() && isHex(v[i + 1]) && isHex(v[i + 2])) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

// The CEL rules of HTTPPathMatch for Exact and PathPrefix; "" when the value is fine.
std::string pathProblem(const std::string& v) {
  if (v.empty() || v.front() != '/') return "must be an absolute path starting with '/'";
  for (const char* bad : {"//", "/./", "/../", "%2f", "%2F", "#"})
    if (v.find(bad) != std::string::npos) return std::string("must not contain '") + bad + "'";
  if (v.ends_with("/..") || v.ends_with("/.")) return "must not end with '/.' or '/..'";
  if (!hasOnlyPathCharacters(v))
    return "may only contain the characters -A-Za-z0-9/._~!$&'()*+,;=:@ and %XX escapes";
  return "";
}

const std::set<std::string>& httpMethods() {
  static const std::set<std::string> m = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                          "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  return m;
}

Status checkListSize(const Fields& f, const std::string& key, size_t max) {
  Fields list = f.child(key);
  if (auto st = list.expectSequence(); !st) return st;
  if (list.size() > max)
    return fail(f.error(key, "has " + std::to_string(list.size()) + " entries, at most " +
                                 std::to_string(max) + " are allowed"));
  return ok();
}

Result<ValueMatchType> valueMatchType(const Fields& f) {
  auto t = f.str("type", "Exact");
  if (!t) return fail(t.error());
  if (*t == "Exact") return ValueMatchType::kExact;
  if (*t == "RegularExpression") return ValueMatchType::kRegularExpression;
  return fail(f.error("type", "'" + *t + "' is not Exact or RegularExpression"));
}

// headers[] / queryParams[] entries: token names (first of equal names wins, as Gateway API
// says), values 1..max characters, regexes that compile.
Result<std::vector<ValueMatch>> decodeValueMatches(const Fields& parent, const std::string& key,
                                                   size_t max_value, bool case_insensitive_names) {
  std::vector<ValueMatch> out;
  if (auto st = checkListSize(parent, key, kMaxHeaderMatches); !st) return fail(st.error());
  Fields list = parent.child(key);
  std::set<std::string> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    Fields m = list.item(i);
    if (auto st = m.expectMap(); !st) return fail(st.error());
    ValueMatch v;
    auto type = valueMatchType(m);
    if (!type) return fail(type.error());
    v.type = *type;
    auto name = m.str("name");
    if (!name) return fail(name.error());
    if (name->empty()) return fail(m.error("name", "missing"));
    if (name->size() > 256 || !isToken(*name))
      return fail(m.error("name", "'" + *name + "' is not a valid name (an RFC 7230 token)"));
    auto value = m.str("value");
    if (!value) return fail(value.error());
    if (value->empty()) return fail(m.error("value", "missing"));
    if (value->size() > max_value)
      return fail(m.error("value", "longer than " + std::to_string(max_value) + " characters"));
    if (v.type == ValueMatchType::kRegularExpression) {
      if (auto st = checkRegex(*value); !st)
        return fail(m.error("value", "invalid regular expression: " + st.error().context()));
    }
    v.name = case_insensitive_names ? lower(*name) : *name;
    v.value = *value;
    if (!seen.insert(v.name).second) continue;  // only the first of equivalent names counts
    out.push_back(std::move(v));
  }
  return out;
}

Result<PathMatch> decodePathMatch(const Fields& f) {
  PathMatch p;
  if (f.missing()) return p;
  if (auto st = f.expectMap(); !st) return fail(st.error());
  auto type = f.str("type", "PathPrefix");
  if (!type) return fail(type.error());
  if (*type == "Exact") {
    p.type = PathMatchType::kExact;
  } else if (*type == "PathPrefix") {
    p.type = PathMatchType::kPathPrefix;
  } else if (*type == "RegularExpression") {
    p.type = PathMatchType::kRegularExpression;
  } else {
    return fail(f.error("type", "'" + *type + "' is not Exact, PathPrefix or RegularExpression"));
  }
  auto value = f.str("value", "/");
  if (!value) return fail(value.error());
  if (value->size() > 1024) return fail(f.error("value", "longer than 1024 characters"));
  if (p.type == PathMatchType::kRegularExpression) {
    if (value->empty()) return fail(f.error("value", "missing"));
    if (auto st = checkRegex(*value); !st)
      return fail(f.error("value", "invalid regular expression: " + st.error().context()));
  } else if (std::string problem = pathProblem(*value); !problem.empty()) {
    return fail(f.error("value", "'" + *value + "' " + problem));
  }
  p.value = *value;
  return p;
}

Result<BackendObjectRef> decodeBackendObjectRef(const Fields& f, const std::string& route_ns) {
  if (auto st = f.expectMap(); !st) return fail(st.error());
  BackendObjectRef r;
  auto group = f.str("group", "");
  if (!group) return fail(group.error());
  r.group = *group;
  auto kind = f.str("kind", "Service");
  if (!kind) return fail(kind.error());
  r.kind = *kind;
  auto name = f.str("name");
  if (!name) return fail(name.error());
  if (name->empty()) return fail(f.error("name", "missing"));
  r.name = *name;
  auto ns = f.str("namespace", route_ns);
  if (!ns) return fail(ns.error());
  r.namespace_ = *ns;
  if (f.has("port")) {
    auto port = f.integer("port", 0, 1, 65535);
    if (!port) return fail(port.error());
    r.port = static_cast<uint16_t>(*port);
  }
  if ((r.group.empty() || r.group == "core") && r.kind == "Service" && !r.port)
    return fail(f.error("port", "missing (a Service backend needs a port)"));
  return r;
}

Result<HeaderModifier> decodeHeaderModifier(const Fields& f) {
  HeaderModifier m;
  if (f.missing()) return fail(f.error("", "missing"));
  if (auto st = f.expectMap(); !st) return fail(st.error());
  std::set<std::string> names;
  for (const char* key : {"set", "add"}) {
    if (auto st = checkListSize(f, key, kMaxModifierHeaders); !st) return fail(st.error());
    Fields list = f.child(key);
    for (size_t i = 0; i < list.size(); ++i) {
      Fields h = list.item(i);
      if (auto st = h.expectMap(); !st) return fail(st.error());
      auto name = h.str("name");
      if (!name) return fail(name.error());
      if (name->empty() || name->size() > 256 || !isToken(*name))
        return fail(h.error("name", "'" + *name + "' is not a valid header name"));
      auto value = h.str("value");
      if (!value) return fail(value.error());
      if (value->size() > 4096) return fail(h.error("value", "longer than 4096 characters"));
      if (!names.insert(std::string(key) + "/" + lower(*name)).second)
        return fail(h.error("name", "'" + *name + "' appears twice in " + key));
      (std::string(key) == "set" ? m.set : m.add).push_back({*name, *value});
    }
  }
  if (auto st = checkListSize(f, "remove", kMaxModifierHeaders); !st) return fail(st.error());
  auto remove = f.stringList("remove");
  if (!remove) return fail(remove.error());
  std::set<std::string> removed;
  for (size_t i = 0; i < remove->size(); ++i) {
    const std::string& name = (*remove)[i];
    if (name.empty() || !isToken(name))
      return fail(
          f.error("remove[" + std::to_string(i) + "]", "'" + name + "' is not a header name"));
    if (!removed.insert(lower(name)).second)
      return fail(f.error("remove[" + std::to_string(i) + "]", "'" + name + "' appears twice"));
  }
  m.remove = std::move(*remove);
  return m;
}

Result<PathModifier> decodePathModifier(const Fields& f) {
  if (auto st = f.expectMap(); !st) return fail(st.error());
  PathModifier p;
  auto type = f.str("type");
  if (!type) return fail(type.error());
  const char* field = nullptr;
  if (*type == "ReplaceFullPath") {
    p.type = PathModifierType::kReplaceFullPath;
    field = "replaceFullPath";
  } else if (*type == "ReplacePrefixMatch") {
    p.type = PathModifierType::kReplacePrefixMatch;
    field = "replacePrefixMatch";
  } else {
    return fail(f.error("type", "'" + *type + "' is not ReplaceFullPath or ReplacePrefixMatch"));
  }
  const char* other =
      p.type == PathModifierType::kReplaceFullPath ? "replacePrefixMatch" : "replaceFullPath";
  if (f.has(other)) return fail(f.error(other, std::string("must be unset when type is ") + *type));
  auto value = f.str(field);
  if (!value) return fail(value.error());
  if (!f.has(field)) return fail(f.error(field, "missing"));
  if (value->size() > 1024) return fail(f.error(field, "longer than 1024 characters"));
  if (!value->empty() && value->front() != '/')
    return fail(f.error(field, "'" + *value + "' must start with '/'"));
  p.value = *value;
  return p;
}

struct FilterContext {
  RouteKind kind;
  bool backend_level = false;
  std::string route_ns;
};

// One filters[] entry; the CEL rules: `type` names the one field that is set.
Result<RouteFilter> decodeFilter(const Fields& f, const FilterContext& ctx) {
  if (auto st = f.expectMap(); !st) return fail(st.error());
  RouteFilter out;
  auto type = f.str("type");
  if (!type) return fail(type.error());
  if (type->empty()) return fail(f.error("type", "missing"));
  struct Known {
    const char* type;
    const char* field;
    FilterType value;
  };
  static const Known kKnown[] = {
      {"RequestHeaderModifier", "requestHeaderModifier", FilterType::kRequestHeaderModifier},
      {"ResponseHeaderModifier", "responseHeaderModifier", FilterType::kResponseHeaderModifier},
      {"RequestRedirect", "requestRedirect", FilterType::kRequestRedirect},
      {"URLRewrite", "urlRewrite", FilterType::kUrlRewrite},
      {"RequestMirror", "requestMirror", FilterType::kRequestMirror},
  };
  const Known* known = nullptr;
  for (const auto& k : kKnown)
    if (*type == k.type) known = &k;
  if (!known)
    return fail(f.error(
        "type", "filter type '" + *type + "' is not supported by " + kWaypointGatewayClass));
  for (const auto& k : kKnown)
    if (&k != known && f.has(k.field))
      return fail(f.error(k.field, std::string("must be unset when type is ") + *type));
  if (ctx.kind == RouteKind::kGrpc &&
      (known->value == FilterType::kRequestRedirect || known->value == FilterType::kUrlRewrite))
    return fail(f.error("type", "'" + *type + "' is not a GRPCRoute filter"));
  if (ctx.backend_level && known->value == FilterType::kRequestRedirect)
    return fail(f.error("type", "RequestRedirect is a rule filter; a redirect reaches no backend"));
  out.type = known->value;
  Fields body = f.child(known->field);
  if (body.missing()) return fail(f.error(known->field, "missing"));
  switch (out.type) {
    case FilterType::kRequestHeaderModifier:
    case FilterType::kResponseHeaderModifier: {
      auto m = decodeHeaderModifier(body);
      if (!m) return fail(m.error());
      out.header_modifier = std::move(*m);
      break;
    }
    case FilterType::kRequestRedirect: {
      if (auto st = body.expectMap(); !st) return fail(st.error());
      RequestRedirect& r = out.redirect;
      auto scheme = body.str("scheme");
      if (!scheme) return fail(scheme.error());
      if (!scheme->empty() && *scheme != "http" && *scheme != "https")
        return fail(body.error("scheme", "'" + *scheme + "' is not http or https"));
      r.scheme = *scheme;
      auto host = body.str("hostname");
      if (!host) return fail(host.error());
      if (!host->empty() && (host->starts_with("*") || !isValidGatewayHostname(*host)))
        return fail(body.error("hostname", "'" + *host + "' is not a valid hostname"));
      r.hostname = *host;
      if (body.has("path")) {
        auto p = decodePathModifier(body.child("path"));
        if (!p) return fail(p.error());
        r.path = *p;
      }
      if (body.has("port")) {
        auto port = body.integer("port", 0, 1, 65535);
        if (!port) return fail(port.error());
        r.port = static_cast<uint16_t>(*port);
      }
      auto code = body.integer("statusCode", 302, 301, 308);
      if (!code) return fail(code.error());
      if (*code != 301 && *code != 302 && *code != 303 && *code != 307 && *code != 308)
        return fail(body.error("statusCode",
                               std::to_string(*code) + " is not one of 301, 302, 303, 307, 308"));
      r.status_code = static_cast<int>(*code);
      break;
    }
    case FilterType::kUrlRewrite: {
      if (auto st = body.expectMap(); !st) return fail(st.error());
      auto host = body.str("hostname");
      if (!host) return fail(host.error());
      if (!host->empty() && (host->starts_with("*") || !isValidGatewayHostname(*host)))
        return fail(body.error("hostname", "'" + *host + "' is not a valid hostname"));
      out.rewrite.hostname = *host;
      if (body.has("path")) {
        auto p = decodePathModifier(body.child("path"));
        if (!p) return fail(p.error());
        out.rewrite.path = *p;
      }
      break;
    }
    case FilterType::kRequestMirror: {
      if (auto st = body.expectMap(); !st) return fail(st.error());
      auto ref = decodeBackendObjectRef(body.child("backendRef"), ctx.route_ns);
      if (!ref) return fail(ref.error());
      out.mirror.backend = *ref;
      if (body.has("percent") && body.has("fraction"))
        return fail(body.error("percent", "set only one of percent and fraction"));
      if (body.has("percent")) {
        auto pct = body.integer("percent", 100, 0, 100);
        if (!pct) return fail(pct.error());
        out.mirror.numerator = static_cast<uint32_t>(*pct);
        out.mirror.denominator = 100;
      }
      if (body.has("fraction")) {
        Fields fr = body.child("fraction");
        auto den = fr.integer("denominator", 100, 1, INT32_MAX);
        if (!den) return fail(den.error());
        auto num = fr.integer("numerator", 0, 0, INT32_MAX);
        if (!num) return fail(num.error());
        if (!fr.has("numerator")) return fail(fr.error("numerator", "missing"));
        if (*num > *den)
          return fail(fr.error("numerator", "must not be greater than the denominator"));
        out.mirror.numerator = static_cast<uint32_t>(*num);
        out.mirror.denominator = static_cast<uint32_t>(*den);
      }
      break;
    }
  }
  return out;
}

// filters[] of a rule or backendRef, with the list-level CEL rules (at most one of each
// header modifier, redirect and rewrite; not redirect and rewrite together).
Result<std::vector<RouteFilter>> decodeFilters(const Fields& parent, const FilterContext& ctx) {
  std::vector<RouteFilter> out;
  if (auto st = checkListSize(parent, "filters", kMaxFilters); !st) return fail(st.error());
  Fields list = parent.child("filters");
  std::set<FilterType> once;
  for (size_t i = 0; i < list.size(); ++i) {
    auto f = decodeFilter(list.item(i), ctx);
    if (!f) return fail(f.error());
    if (f->type != FilterType::kRequestMirror && !once.insert(f->type).second)
      return fail(list.item(i).error(
          "type", std::string(filterTypeName(f->type)) + " may appear only once"));
    out.push_back(std::move(*f));
  }
  if (once.contains(FilterType::kRequestRedirect) && once.contains(FilterType::kUrlRewrite))
    return fail(parent.error("filters", "RequestRedirect and URLRewrite cannot be combined"));
  return out;
}

Result<std::vector<BackendRef>> decodeBackendRefs(const Fields& rule, RouteKind kind,
                                                  const std::string& route_ns) {
  std::vector<BackendRef> out;
  if (auto st = checkListSize(rule, "backendRefs", kMaxBackendRefs); !st) return fail(st.error());
  Fields list = rule.child("backendRefs");
  for (size_t i = 0; i < list.size(); ++i) {
    Fields b = list.item(i);
    auto ref = decodeBackendObjectRef(b, route_ns);
    if (!ref) return fail(ref.error());
    BackendRef br;
    br.ref = std::move(*ref);
    auto weight = b.integer("weight", 1, 0, kMaxWeight);
    if (!weight) return fail(weight.error());
    br.weight = static_cast<uint32_t>(*weight);
    auto filters = decodeFilters(b, {kind, true, route_ns});
    if (!filters) return fail(filters.error());
    br.filters = std::move(*filters);
    out.push_back(std::move(br));
  }
  return out;
}

bool usesPrefixReplacement(const std::vector<RouteFilter>& filters) {
  for (const auto& f : filters) {
    if (f.type == FilterType::kRequestRedirect && f.redirect.path &&
        f.redirect.path->type == PathModifierType::kReplacePrefixMatch)
      return true;
    if (f.type == FilterType::kUrlRewrite && f.rewrite.path &&
        f.rewrite.path->type == PathModifierType::kReplacePrefixMatch)
      return true;
  }
  return false;
}

Result<std::vector<RouteMatch>> decodeHttpMatches(const Fields& rule) {
  std::vector<RouteMatch> out;
  if (auto st = checkListSize(rule, "matches", kMaxHttpMatches); !st) return fail(st.error());
  Fields list = rule.child("matches");
  for (size_t i = 0; i < list.size(); ++i) {
    Fields m = list.item(i);
    if (auto st = m.expectMap(); !st) return fail(st.error());
    RouteMatch match;
    auto path = decodePathMatch(m.child("path"));
    if (!path) return fail(path.error());
    match.path = *path;
    auto headers = decodeValueMatches(m, "headers", 4096, true);
    if (!headers) return fail(headers.error());
    match.headers = std::move(*headers);
    auto query = decodeValueMatches(m, "queryParams", 1024, false);
    if (!query) return fail(query.error());
    match.query_params = std::move(*query);
    auto method = m.str("method");
    if (!method) return fail(method.error());
    if (!method->empty() && !httpMethods().contains(*method))
      return fail(m.error("method", "'" + *method + "' is not an HTTP method Gateway API allows"));
    match.method = *method;
    out.push_back(std::move(match));
  }
  if (out.empty()) out.push_back(RouteMatch{});  // Gateway API default: PathPrefix "/"
  return out;
}

bool isGrpcServiceName(const std::string& s) {
  // ^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$
  size_t i = s.starts_with(".") ? 1 : 0;
  if (i >= s.size()) return false;
  bool segment_start = true;
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
      continue;
    }
    if (segment_start ? !(std::isalpha(c) || c == '_') : !(std::isalnum(c) || c == '_'))
      return false;
    segment_start = false;
  }
  return !segment_start;
}

bool isGrpcMethodName(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (i == 0 ? !(std::isalpha(c) || c == '_') : !(std::isalnum(c) || c == '_')) return false;
  }
  return true;
}

// GRPCRoute matches[] as path matches: gRPC requests are POST /<service>/<method>.
Result<std::vector<RouteMatch>> decodeGrpcMatches(const Fields& rule) {
  std::vector<RouteMatch> out;
  if (auto st = checkListSize(rule, "matches", kMaxGrpcMatches); !st) return fail(st.error());
  Fields list = rule.child("matches");
  for (size_t i = 0; i < list.size(); ++i) {
    Fields m = list.item(i);
    if (auto st = m.expectMap(); !st) return fail(st.error());
    RouteMatch match;
    Fields method = m.child("method");
    if (!method.missing()) {
      if (auto st = method.expectMap(); !st) return fail(st.error());
      auto type = valueMatchType(method);
      if (!type) return fail(type.error());
      auto svc = method.str("service");
      if (!svc) return fail(svc.error());
      auto meth = method.str("method");
      if (!meth) return fail(meth.error());
      if (svc->empty() && meth->empty())
        return fail(method.error("", "one or both of 'service' or 'method' must be set"));
      if (svc->size() > 1024) return fail(method.error("service", "longer than 1024 characters"));
      if (meth->size() > 1024) return fail(method.error("method", "longer than 1024 characters"));
      if (*type == ValueMatchType::kExact) {
        if (!svc->empty() && !isGrpcServiceName(*svc))
          return fail(method.error("service", "'" + *svc + "' is not a valid gRPC service name"));
        if (!meth->empty() && !isGrpcMethodName(*meth))
          return fail(method.error("method", "'" + *meth + "' is not a valid gRPC method name"));
        if (!svc->empty() && !meth->empty()) {
          match.path = {PathMatchType::kExact, "/" + *svc + "/" + *meth};
        } else if (!svc->empty()) {
          match.path = {PathMatchType::kPathPrefix, "/" + *svc};
        } else {
          match.path = {PathMatchType::kRegularExpression, "/[^/]+/" + *meth};
        }
      } else {
        for (const auto& [key, value] : {std::pair{"service", *svc}, std::pair{"method", *meth}}) {
          if (value.empty()) continue;
          if (auto st = checkRegex(value); !st)
            return fail(method.error(key, "invalid regular expression: " + st.error().context()));
        }
        match.path = {PathMatchType::kRegularExpression,
                      "/(" + (svc->empty() ? std::string("[^/]+") : *svc) + ")/(" +
                          (meth->empty() ? std::string("[^/]+") : *meth) + ")"};
      }
    }
    auto headers = decodeValueMatches(m, "headers", 4096, true);
    if (!headers) return fail(headers.error());
    match.headers = std::move(*headers);
    out.push_back(std::move(match));
  }
  if (out.empty()) out.push_back(RouteMatch{});
  return out;
}

Result<std::optional<std::chrono::milliseconds>> durationField(const Fields& f,
                                                               const std::string& key) {
  if (!f.has(key)) return std::optional<std::chrono::milliseconds>();
  auto text = f.str(key);
  if (!text) return fail(text.error());
  auto d = parseGatewayDuration(*text);
  if (!d) return fail(f.error(key, d.error().context()));
  return std::optional<std::chrono::milliseconds>(*d);
}

Result<RouteRule> decodeRule(const Fields& r, RouteKind kind, const std::string& route_ns) {
  if (auto st = r.expectMap(); !st) return fail(st.error());
  RouteRule rule;
  auto name = r.str("name");
  if (!name) return fail(name.error());
  if (!name->empty() && !isValidSectionName(*name))
    return fail(r.error("name", "'" + *name + "' is not a valid rule name"));
  rule.name = *name;
  auto matches = kind == RouteKind::kHttp ? decodeHttpMatches(r) : decodeGrpcMatches(r);
  if (!matches) return fail(matches.error());
  rule.matches = std::move(*matches);
  auto filters = decodeFilters(r, {kind, false, route_ns});
  if (!filters) return fail(filters.error());
  rule.filters = std::move(*filters);
  auto backends = decodeBackendRefs(r, kind, route_ns);
  if (!backends) return fail(backends.error());
  rule.backend_refs = std::move(*backends);
  for (const auto& f : rule.filters) {
    if (f.type == FilterType::kRequestRedirect && !rule.backend_refs.empty())
      return fail(r.error("filters", "RequestRedirect cannot be combined with backendRefs"));
  }
  bool prefix_replacement = usesPrefixReplacement(rule.filters);
  for (const auto& b : rule.backend_refs) prefix_replacement |= usesPrefixReplacement(b.filters);
  if (prefix_replacement &&
      (rule.matches.size() != 1 || rule.matches[0].path.type != PathMatchType::kPathPrefix))
    return fail(r.error("filters", "path.replacePrefixMatch needs exactly one PathPrefix match"));
  if (kind == RouteKind::kHttp) {
    Fields timeouts = r.child("timeouts");
    if (auto st = timeouts.expectMap(); !st) return fail(st.error());
    auto request = durationField(timeouts, "request");
    if (!request) return fail(request.error());
    auto backend = durationField(timeouts, "backendRequest");
    if (!backend) return fail(backend.error());
    rule.request_timeout = *request;
    rule.backend_request_timeout = *backend;
    if (*request && *backend && request->value().count() != 0 && **backend > **request)
      return fail(timeouts.error("backendRequest", "is longer than timeouts.request"));
    Fields retry = r.child("retry");
    if (!retry.missing()) {
      if (auto st = retry.expectMap(); !st) return fail(st.error());
      RouteRetry rr;
      Fields codes = retry.child("codes");
      if (auto st = codes.expectSequence(); !st) return fail(st.error());
      for (size_t i = 0; i < codes.size(); ++i) {
        Fields item = codes.item(i);
        const YAML::Node& n = item.node();
        int64_t value = -1;
        if (n.IsScalar()) {
          try {
            size_t used = 0;
            value = std::stoll(n.Scalar(), &used);
            if (used != n.Scalar().size()) value = -1;
          } catch (const std::exception&) {
            value = -1;
          }
        }
        if (value < 400 || value > 599)
          return fail(retry.error("codes[" + std::to_string(i) + "]",
                                  "expected an HTTP status code 400..599"));
        rr.codes.push_back(static_cast<uint32_t>(value));
      }
      if (retry.has("attempts")) {
        auto attempts = retry.integer("attempts", 0, 0, 1000);
        if (!attempts) return fail(attempts.error());
        rr.attempts = static_cast<uint32_t>(*attempts);
      }
      auto backoff = durationField(retry, "backoff");
      if (!backoff) return fail(backoff.error());
      rr.backoff = *backoff;
      rule.retry = std::move(rr);
    }
  }
  return rule;
}

Result<Route> decodeRoute(const k8s::Object& obj, RouteKind kind) {
  Route route;
  route.kind = kind;
  route.meta = obj.meta;
  route.object = obj;
  Fields spec = Fields(obj, obj.node, "").child("spec");
  if (spec.missing()) return fail(obj.fieldError("spec", "missing"));
  if (auto st = spec.expectMap(); !st) return fail(st.error());
  if (auto st = checkListSize(spec, "parentRefs", kMaxParentRefs); !st) return fail(st.error());
  Fields parents = spec.child("parentRefs");
  for (size_t i = 0; i < parents.size(); ++i) {
    auto ref = decodeParentRef(parents.item(i), obj.meta.namespace_);
    if (!ref) return fail(ref.error());
    if (std::find(route.parent_refs.begin(), route.parent_refs.end(), *ref) !=
        route.parent_refs.end())
      return fail(parents.item(i).error("", "repeats an earlier parentRef"));
    route.parent_refs.push_back(std::move(*ref));
  }
  if (auto st = checkListSize(spec, "hostnames", kMaxHostnames); !st) return fail(st.error());
  auto hostnames = spec.stringList("hostnames");
  if (!hostnames) return fail(hostnames.error());
  for (size_t i = 0; i < hostnames->size(); ++i) {
    if (!isValidGatewayHostname((*hostnames)[i]))
      return fail(spec.error("hostnames[" + std::to_string(i) + "]",
                             "'" + (*hostnames)[i] + "' is not a valid hostname"));
  }
  route.hostnames = std::move(*hostnames);
  if (auto st = checkListSize(spec, "rules", kMaxRules); !st) return fail(st.error());
  Fields rules = spec.child("rules");
  std::set<std::string> rule_names;
  for (size_t i = 0; i < rules.size(); ++i) {
    auto rule = decodeRule(rules.item(i), kind, obj.meta.namespace_);
    if (!rule) return fail(rule.error());
    if (!rule->name.empty() && !rule_names.insert(rule->name).second)
      return fail(rules.item(i).error("name", "'" + rule->name + "' names another rule too"));
    route.rules.push_back(std::move(*rule));
  }
  // A route without rules still matches everything (Gateway API: one default rule).
  if (route.rules.empty()) {
    RouteRule rule;
    rule.matches.push_back(RouteMatch{});
    route.rules.push_back(std::move(rule));
  }
  return route;
}

}  // namespace

const char* kindName(RouteKind k) { return k == RouteKind::kGrpc ? "GRPCRoute" : "HTTPRoute"; }

const char* filterTypeName(FilterType t) {
  switch (t) {
    case FilterType::kRequestHeaderModifier:
      return "RequestHeaderModifier";
    case FilterType::kResponseHeaderModifier:
      return "ResponseHeaderModifier";
    case FilterType::kRequestRedirect:
      return "RequestRedirect";
    case FilterType::kUrlRewrite:
      return "URLRewrite";
    case FilterType::kRequestMirror:
      return "RequestMirror";
  }
  return "";
}

std::string Route::key() const {
  return std::string(kindName(kind)) + "/" + meta.namespace_ + "/" + meta.name;
}

Result<Route> decodeHttpRoute(const k8s::Object& obj) { return decodeRoute(obj, RouteKind::kHttp); }
Result<Route> decodeGrpcRoute(const k8s::Object& obj) { return decodeRoute(obj, RouteKind::kGrpc); }

Status checkRegex(const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  RE2 re(pattern, o);
  if (!re.ok()) return fail(Error::invalid(re.error()));
  return ok();
}

Result<std::chrono::milliseconds> parseGatewayDuration(const std::string& text) {
  auto bad = [&] {
    return fail(Error::invalid("'" + text +
                               "' is not a Gateway API duration (1 to 4 groups of up to 5 "
                               "digits followed by h, m, s or ms, e.g. 1h30m or 500ms)"));
  };
  if (text.empty()) return bad();
  std::chrono::milliseconds total{0};
  size_t i = 0, groups = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    size_t digits = i - start;
    if (digits == 0 || digits > 5) return bad();
    int64_t n = std::stoll(text.substr(start, digits));
    if (text.compare(i, 2, "ms") == 0) {
      total += std::chrono::milliseconds(n);
      i += 2;
    } else if (i < text.size() && text[i] == 'h') {
      total += std::chrono::hours(n);
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      total += std::chrono::minutes(n);
      ++i;
    } else if (i < text.size() && text[i] == 's') {
      total += std::chrono::seconds(n);
      ++i;
    } else {
      return bad();
    }
    if (++groups > 4) return bad();
  }
  return total;
}

}  // namespace warren::agent
