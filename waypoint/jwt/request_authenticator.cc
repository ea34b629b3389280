#include "waypoint/jwt/request_authenticator.h"

#include <fmt/format.h>

#include "common/http/query_string.h"

namespace warren::waypoint {
namespace {

struct Location {
  enum class Kind { kHeader, kParam, kCookie };
  Kind kind = Kind::kHeader;
  std::string name;    // header names lower-case
  std::string prefix;  // headers only
  friend bool operator==(const Location&, const Location&) = default;
};

std::vector<Location> locationsOf(const JwtRule& rule) {
  std::vector<Location> out;
  for (const auto& h : rule.from_headers) {
    out.push_back({Location::Kind::kHeader, toLowerAscii(h.name), h.prefix});
  }
  for (const auto& p : rule.from_params) out.push_back({Location::Kind::kParam, p, ""});
  for (const auto& c : rule.from_cookies) out.push_back({Location::Kind::kCookie, c, ""});
  if (out.empty()) {
    out.push_back({Location::Kind::kHeader, "authorization", "Bearer "});
    out.push_back({Location::Kind::kParam, "access_token", ""});
  }
  return out;
}

std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  for (const auto& [k, v] : http::splitQuery(query)) {
    if (k != name) continue;
    auto decoded = http::percentDecode(v, true);
    return decoded ? *decoded : std::string(v);
  }
  return std::nullopt;
}

std::optional<std::string> cookie(const HeaderMap& headers, std::string_view name) {
  for (const auto& e : headers) {
    if (e.name != "cookie") continue;
    std::string_view rest = e.value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return std::string(pair.substr(eq + 1));
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> extract(const Location& loc, const HttpRequest& req) {
  switch (loc.kind) {
    case Location::Kind::kHeader: {
      const std::string* v = req.headers.first(loc.name);
      if (!v) return std::nullopt;
      std::string_view s = *v;
      if (s.size() < loc.prefix.size() ||
          !equalsIgnoreCase(s.substr(0, loc.prefix.size()), loc.prefix)) {
        return std::nullopt;  // another scheme ("Basic ..."): not a token for this rule
      }
      s.remove_prefix(loc.prefix.size());
      while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
      while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
      return std::string(s);
    }
    case Location::Kind::kParam:
      return queryParam(req.query, loc.name);
    case Location::Kind::kCookie:
      return cookie(req.headers, loc.name);
  }
  return std::nullopt;
}

// A claim for outputClaimToHeaders: top-level name first, else a dotted path.
std::optional<std::string> claimText(const JwtClaims& claims, const std::string& name) {
  const nlohmann::json* v = claims.claim({name});
  if (!v) {
    std::vector<std::string> path;
    size_t start = 0;
    while (true) {
      size_t dot = name.find('.', start);
      path.push_back(name.substr(start, dot == std::string::npos ? dot : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (path.size() > 1) v = claims.claim(path);
  }
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_number()) return fmt::format("{}", v->get<double>());
  return std::nullopt;  // arrays and objects are not copied (Istio: unsupported type)
}

RequestAuthOutcome rejected(JwtFailure f) {
  RequestAuthOutcome out;
  out.kind = RequestAuthOutcome::Kind::kRejected;
  out.failure = std::move(f);
  return out;
}

}  // namespace

std::string RequestAuthOutcome::wwwAuthenticate(std::string_view realm) const {
  return fmt::format("Bearer realm=\"{}\", error=\"invalid_token\"", realm);
}

RequestAuthOutcome authenticateRequest(const std::vector<JwtRule>& rules,
                                       const HttpRequest& request,
                                       std::chrono::system_clock::time_point now) {
  std::vector<std::vector<Location>> locations;
  locations.reserve(rules.size());
  for (const auto& r : rules) locations.push_back(locationsOf(r));

  // Each location read once, in rule order.
  std::vector<std::pair<Location, std::string>> tokens;
  for (const auto& locs : locations) {
    for (const auto& loc : locs) {
      if (std::any_of(tokens.begin(), tokens.end(),
                      [&](const auto& t) { return t.first == loc; })) {
        continue;
      }
      if (auto token = extract(loc, request)) tokens.emplace_back(loc, std::move(*token));
    }
  }
  if (tokens.empty()) return {};

  RequestAuthOutcome out;
  for (const auto& [loc, token] : tokens) {
    auto parsed = parseJwt(token);
    if (!parsed) return rejected(parsed.error());
    std::string iss;
    if (auto it = parsed->payload.find("iss"); it != parsed->payload.end() && it->is_string()) {
      iss = it->get<std::string>();
    }
    const JwtRule* rule = nullptr;
    for (size_t i = 0; i < rules.size() && !rule; ++i) {
      if (rules[i].issuer == iss &&
          std::find(locations[i].begin(), locations[i].end(), loc) != locations[i].end()) {
        rule = &rules[i];
      }
    }
    if (!rule) {
      return rejected({JwtError::kIssuerNotConfigured,
                       fmt::format("no jwtRule for issuer '{}' reads the token's location", iss)});
    }
    if (!rule->jwks) return rejected({JwtError::kUnknownKid, "the rule's JWKS is not available"});
    auto claims =
        verifyJwt(*parsed, *rule->jwks,
                  JwtVerifierConfig{rule->issuer, rule->audiences, rule->clock_skew}, now);
    if (!claims) return rejected(claims.error());
    if (out.claims) continue;  // the identity is the first token's; the others only must verify
    out.kind = RequestAuthOutcome::Kind::kAuthenticated;
    if (!rule->forward_original_token && loc.kind == Location::Kind::kHeader) {
      out.request_edits.remove.push_back(loc.name);
    }
    for (const auto& c : rule->output_claim_to_headers) {
      if (auto text = claimText(*claims, c.claim))
        out.request_edits.set.push_back({c.header, *text});
    }
    if (!rule->output_payload_to_header.empty()) {
      // The payload segment as received (Envoy forwards it, not a re-serialization).
      const std::string& input = parsed->signing_input;
      out.request_edits.set.push_back(
          {rule->output_payload_to_header, input.substr(input.find('.') + 1)});
    }
    out.claims = std::move(*claims);
  }
  return out;
}

}  // namespace warren::waypoint
