#include "waypoint/authz/attribute_match.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace warren::waypoint {
namespace {

constexpr std::string_view kOneSegment = "{*}";
constexpr std::string_view kAnySegments = "{**}";

// RFC 3986 pchar as Envoy's uri_template treats it for operators: unreserved, pct-encoded,
// sub-delims except '*' and '=', ':' and '@' (kLiteral).
constexpr std::string_view kOperatorClass = "a-zA-Z0-9._~%!$&'()+,;:@-";

// istiod's validLiteral (pkg/config/security/security.go): pchar, '=' included.
bool isTemplateLiteral(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~%!$&'()+,;:@=").find(c) != std::string_view::npos;
  });
}

// '*' matches any run of characters; everything else is literal.
bool globMatches(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool stringMatches(const AttributeValue& v, std::string_view s) {
  return std::get<StringMatcher>(v).matches(s);
}

// A claim value matches when it is a string that matches, or a list with such a string.
bool claimMatches(const AttributeValue& v, const nlohmann::json& claim) {
  if (claim.is_string()) return stringMatches(v, claim.get_ref<const std::string&>());
  if (claim.is_array()) {
    for (const auto& e : claim) {
      if (e.is_string() && stringMatches(v, e.get_ref<const std::string&>())) return true;
    }
  }
  return false;
}

bool valueMatches(const AttributeMatch& m, const AttributeValue& v, const AuthzContext& ctx) {
  const ConnectionInfo& c = ctx.conn;
  switch (m.attribute) {
    case Attribute::kSourcePrincipal:
      // No peer identity: Envoy's authenticated principal is absent, nothing matches.
      return c.source_identity && stringMatches(v, ctx.principal);
    case Attribute::kSourceNamespace:
      return c.source_identity &&
             globMatches(std::get<NamespaceGlob>(v).pattern, c.source_identity->ns());
    case Attribute::kSourceIp:
      return std::get<IpBlock>(v).contains(c.source_ip);
    case Attribute::kRemoteIp:
      return std::get<IpBlock>(v).contains(c.remote_ip);
    case Attribute::kDestinationIp:
      return std::get<IpBlock>(v).contains(c.destination_ip);
    case Attribute::kDestinationPort:
      return std::get<uint16_t>(v) == c.destination_port;
    case Attribute::kConnectionSni:
      return stringMatches(v, c.sni);
    case Attribute::kRequestPrincipal: {
      if (!ctx.jwt) return false;
      const auto& rp = std::get<RequestPrincipalMatcher>(v);
      return rp.issuer.matches(ctx.jwt->issuer) && rp.subject.matches(ctx.jwt->subject);
    }
    case Attribute::kRequestAudiences:
      return ctx.jwt && std::any_of(ctx.jwt->audiences.begin(), ctx.jwt->audiences.end(),
                                    [&](const std::string& a) { return stringMatches(v, a); });
    case Attribute::kRequestPresenter:
      return ctx.jwt && stringMatches(v, ctx.jwt->presenter);
    case Attribute::kRequestClaim: {
      if (!ctx.jwt) return false;
      const nlohmann::json* claim = ctx.jwt->claim(m.claim_path);
      return claim && claimMatches(v, *claim);
    }
    case Attribute::kRequestHeader: {
      const auto& sm = std::get<StringMatcher>(v);
      if (sm.kind() == StringMatcher::Kind::kPresence) return ctx.http->headers.contains(m.header);
      std::string scratch;
      auto joined = ctx.http->headers.joinedView(m.header, scratch);
      return joined && sm.matches(*joined);
    }
    case Attribute::kHost:
      return stringMatches(v, ctx.http->authority);
    case Attribute::kMethod:
      return stringMatches(v, ctx.http->method);
    case Attribute::kPath:
      if (const auto* re = std::get_if<RegexMatcher>(&v)) return re->fullMatch(ctx.http->path);
      return stringMatches(v, ctx.http->path);
  }
  return false;
}

Result<StringMatcher> nonEmpty(std::string_view value, bool ignore_case = false) {
  if (value.empty()) return fail(Error::invalid("empty value not allowed"));
  return StringMatcher::parse(value, ignore_case);
}

// requestPrincipalGenerator (generator.go): the issuer may be a URL, so split at the last '/'.
RequestPrincipalMatcher requestPrincipal(std::string_view value) {
  using K = StringMatcher::Kind;
  const auto any = StringMatcher::of(K::kPresence, "");
  size_t idx = value.rfind('/');
  bool found = idx != std::string_view::npos;
  std::string_view iss = found ? value.substr(0, idx) : value;
  std::string_view sub = found ? value.substr(idx + 1) : std::string_view{};
  if (value == "*") return {any, any};
  if (value.front() == '*') {
    if (found) {
      return {iss == "*" ? any : StringMatcher::of(K::kSuffix, iss.substr(1)),
              StringMatcher::of(K::kExact, sub)};
    }
    return {any, StringMatcher::of(K::kSuffix, value.substr(1))};
  }
  if (value.back() == '*') {
    if (found) {
      return {StringMatcher::of(K::kExact, iss),
              sub == "*" ? any : StringMatcher::of(K::kPrefix, sub.substr(0, sub.size() - 1))};
    }
    return {StringMatcher::of(K::kPrefix, value.substr(0, value.size() - 1)), any};
  }
  return {StringMatcher::of(K::kExact, iss), StringMatcher::of(K::kExact, sub)};
}

// "[a][b]" -> {"a", "b"} (istiod extractNameInNestedBrackets); "[a]" -> {"a"}.
Result<std::vector<std::string>> bracketNames(std::string_view s, std::string_view key,
                                              bool nested) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t close = s.find(']');
    if (s.front() != '[' || close == std::string_view::npos || close == 1) {
      return fail(Error::invalid(fmt::format("bad key '{}': should have format a[b]", key)));
    }
    out.emplace_back(s.substr(1, close - 1));
    if (out.back().find('[') != std::string::npos) {
      return fail(Error::invalid(fmt::format("bad key '{}': should have format a[b]", key)));
    }
    s = s.substr(close + 1);
    if (!nested && !s.empty()) {
      return fail(Error::invalid(fmt::format("bad key '{}': should have format a[b]", key)));
    }
  }
  if (out.empty()) return fail(Error::invalid(fmt::format("bad key '{}': missing [name]", key)));
  return out;
}

}  // namespace

const char* attributeName(Attribute a) {
  switch (a) {
    case Attribute::kSourcePrincipal:
      return "source.principal";
    case Attribute::kSourceNamespace:
      return "source.namespace";
    case Attribute::kSourceIp:
      return "source.ip";
    case Attribute::kRemoteIp:
      return "remote.ip";
    case Attribute::kDestinationIp:
      return "destination.ip";
    case Attribute::kDestinationPort:
      return "destination.port";
    case Attribute::kConnectionSni:
      return "connection.sni";
    case Attribute::kRequestPrincipal:
      return "request.auth.principal";
    case Attribute::kRequestAudiences:
      return "request.auth.audiences";
    case Attribute::kRequestPresenter:
      return "request.auth.presenter";
    case Attribute::kRequestClaim:
      return "request.auth.claims";
    case Attribute::kRequestHeader:
      return "request.headers";
    case Attribute::kHost:
      return "hosts";
    case Attribute::kMethod:
      return "methods";
    case Attribute::kPath:
      return "paths";
  }
  return "?";
}

bool isHttpOnly(Attribute a) {
  switch (a) {
    case Attribute::kRequestPrincipal:
    case Attribute::kRequestAudiences:
    case Attribute::kRequestPresenter:
    case Attribute::kRequestClaim:
    case Attribute::kRequestHeader:
    case Attribute::kHost:
    case Attribute::kMethod:
    case Attribute::kPath:
      return true;
    default:
      return false;
  }
}

AuthzContext::AuthzContext(const ConnectionInfo& c, const HttpRequest* h, const JwtClaims* j)
    : conn(c), http(h), jwt(j) {
  if (c.source_identity) principal = c.source_identity->principal();
}

bool attributeHolds(const AttributeMatch& m, const AuthzContext& ctx) {
  if (!ctx.http && isHttpOnly(m.attribute)) return true;
  if (!m.values.empty() &&
      std::none_of(m.values.begin(), m.values.end(),
                   [&](const AttributeValue& v) { return valueMatches(m, v, ctx); })) {
    return false;
  }
  return std::none_of(m.not_values.begin(), m.not_values.end(),
                      [&](const AttributeValue& v) { return valueMatches(m, v, ctx); });
}

bool isPathTemplate(std::string_view path) {
  return path.find(kOneSegment) != std::string_view::npos ||
         path.find(kAnySegments) != std::string_view::npos;
}

Result<RegexMatcher> compilePathTemplate(std::string_view path) {
  auto bad = [&](std::string_view why) {
    return fail(Error::invalid(fmt::format("invalid path template '{}': {}", path, why)));
  };
  if (path.empty() || path.front() != '/') return bad("must start with '/'");
  std::string_view body = path.substr(1);
  bool trailing_slash = !body.empty() && body.back() == '/';
  if (trailing_slash) body.remove_suffix(1);
  std::string regex = "/";
  bool seen_any = false;
  size_t start = 0;
  for (bool first = true;; first = false) {
    size_t slash = body.find('/', start);
    std::string_view seg =
        body.substr(start, slash == std::string_view::npos ? body.npos : slash - start);
    if (!first) regex.push_back('/');
    if (seg == kOneSegment || seg == kAnySegments) {
      if (seen_any) return bad("{**} must be the last operator");
      seen_any = seg == kAnySegments;
      regex += fmt::format("[{}{}]{}", seg == kAnySegments ? "/" : "", kOperatorClass,
                           seg == kAnySegments ? "*" : "+");
    } else if (seg.find_first_of("{}") != std::string_view::npos) {
      return bad(fmt::format("'{}' has '{{' or '}}' beyond {{*}} and {{**}}", seg));
    } else if (!isTemplateLiteral(seg)) {
      return bad(fmt::format("segment '{}' is not a valid literal", seg));
    } else {
      for (char c : seg) {
        if (std::string_view("$()+.").find(c) != std::string_view::npos) regex.push_back('\\');
        regex.push_back(c);
      }
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (trailing_slash) regex.push_back('/');
  return RegexMatcher::compile(regex);
}

Result<AttributeValue> parseAttributeValue(Attribute attribute, std::string_view value) {
  auto wrap = [&](Error e) {
    return fail(e.wrap(fmt::format("{} value '{}'", attributeName(attribute), value)));
  };
  if (value.empty()) return wrap(Error::invalid("empty value not allowed"));
  switch (attribute) {
    case Attribute::kSourceIp:
    case Attribute::kRemoteIp:
    case Attribute::kDestinationIp: {
      auto b = IpBlock::parse(value);
      if (!b) return fail(b.error());
      return AttributeValue(*b);
    }
    case Attribute::kDestinationPort: {
      unsigned port = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
      if (ec != std::errc() || ptr != value.data() + value.size() || port > 65535) {
        return fail(Error::invalid(fmt::format("bad port '{}'", value)));
      }
      return AttributeValue(static_cast<uint16_t>(port));
    }
    case Attribute::kSourceNamespace:
      return AttributeValue(NamespaceGlob{std::string(value)});
    case Attribute::kRequestPrincipal:
      return AttributeValue(requestPrincipal(value));
    case Attribute::kHost:
      return AttributeValue(StringMatcher::parse(value, true));
    case Attribute::kPath:
      // istiod refuses '{' and '}' anywhere but in {*} and {**} (CheckValidPathTemplate).
      if (value.find_first_of("{}") != std::string_view::npos) {
        auto re = compilePathTemplate(value);
        if (!re) return fail(re.error());
        return AttributeValue(std::move(*re));
      }
      return AttributeValue(StringMatcher::parse(value));
    default: {
      auto m = nonEmpty(value);
      if (!m) return wrap(m.error());
      return AttributeValue(std::move(*m));
    }
  }
}

Result<AttributeMatch> parseConditionKey(std::string_view key) {
  AttributeMatch m;
  struct Plain {
    std::string_view key;
    Attribute attribute;
  };
  static constexpr Plain kPlain[] = {
      {"source.principal", Attribute::kSourcePrincipal},
      {"source.namespace", Attribute::kSourceNamespace},
      {"source.ip", Attribute::kSourceIp},
      {"remote.ip", Attribute::kRemoteIp},
      {"destination.ip", Attribute::kDestinationIp},
      {"destination.port", Attribute::kDestinationPort},
      {"connection.sni", Attribute::kConnectionSni},
      {"request.auth.principal", Attribute::kRequestPrincipal},
      {"request.auth.audiences", Attribute::kRequestAudiences},
      {"request.auth.presenter", Attribute::kRequestPresenter},
  };
  for (const auto& p : kPlain) {
    if (key == p.key) {
      m.attribute = p.attribute;
      return m;
    }
  }
  constexpr std::string_view kHeaders = "request.headers";
  constexpr std::string_view kClaims = "request.auth.claims";
  if (key.starts_with(kHeaders) && key.size() > kHeaders.size() && key[kHeaders.size()] == '[') {
    auto names = bracketNames(key.substr(kHeaders.size()), key, false);
    if (!names) return fail(names.error());
    m.attribute = Attribute::kRequestHeader;
    m.header = toLowerAscii(names->front());
    return m;
  }
  if (key.starts_with(kClaims) && key.size() > kClaims.size() && key[kClaims.size()] == '[') {
    auto names = bracketNames(key.substr(kClaims.size()), key, true);
    if (!names) return fail(names.error());
    m.attribute = Attribute::kRequestClaim;
    m.claim_path = std::move(*names);
    return m;
  }
  if (key == "destination.namespace") {
    return fail(
        Error::invalid("attribute destination.namespace is replaced by metadata.namespace"));
  }
  if (key.starts_with("destination.labels")) {
    return fail(
        Error::invalid(fmt::format("attribute {} is replaced by the workload selector", key)));
  }
  return fail(Error::invalid(fmt::format("unknown or unsupported attribute '{}'", key)));
}

}  // namespace warren::waypoint
