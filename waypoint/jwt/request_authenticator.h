// RequestAuthentication (security.istio.io/v1, jwtRules) at the waypoint, as a pure function of
// the rules, the request and the time: which token the request carries, whether it verifies,
// which identity it gives AuthorizationPolicy, and how the request is edited before forwarding.
//
// Istio's semantics (RequestAuthentication reference; Envoy jwt_authn with requires_any of the
// providers + allow_missing, as istiod generates it):
//   - no token anywhere            -> no identity, allowed (an AuthorizationPolicy may still
//                                     require a requestPrincipal and deny)
//   - a token that fails any check -> 401, whatever the policies say
//   - a token whose issuer no rule names -> 401 ("Jwt issuer is not configured")
//   - every token present must verify; the identity is the first one's (rule order)
// Token locations per rule: fromHeaders (name + prefix, e.g. Authorization "Bearer "),
// fromParams (query parameter), fromCookies; none given: the Authorization header with
// "Bearer " and the "access_token" query parameter (Istio's default).
// After success: the token header is removed unless forwardOriginalToken; outputClaimToHeaders
// copies claims (string, number or boolean) into request headers; outputPayloadToHeader puts the
// base64url payload in a header.
//
// Fetching jwksUri belongs to the proxy: a rule carries the key set it has (inline `jwks` or the
// last fetch); a rule without keys fails every token it is asked to verify (fail closed).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "waypoint/jwt/jwks.h"
#include "waypoint/jwt/jwt_claims.h"
#include "waypoint/jwt/jwt_verifier.h"
#include "waypoint/request/http_request.h"
#include "waypoint/route/route_model.h"

namespace warren::waypoint {

struct JwtHeaderLocation {  // JWTHeader
  std::string name;
  std::string prefix;  // e.g. "Bearer " (scheme compared case-insensitively, RFC 9110 §11.1)
};

struct ClaimToHeader {  // ClaimToHeader
  std::string header;
  std::string claim;  // top-level name, or "a.b" for a nested claim
};

struct JwtRule {  // JWTRule
  std::string issuer;
  std::vector<std::string> audiences;
  std::shared_ptr<const Jwks> jwks;  // null: not fetched yet (every token fails)
  std::vector<JwtHeaderLocation> from_headers;
  std::vector<std::string> from_params;
  std::vector<std::string> from_cookies;
  bool forward_original_token = false;
  std::vector<ClaimToHeader> output_claim_to_headers;
  std::string output_payload_to_header;
  std::chrono::seconds clock_skew{60};
};

struct RequestAuthOutcome {
  enum class Kind { kNoToken, kAuthenticated, kRejected };
  Kind kind = Kind::kNoToken;
  std::optional<JwtClaims> claims;    // kAuthenticated
  std::optional<JwtFailure> failure;  // kRejected
  HeaderModifier request_edits;       // kAuthenticated: apply before forwarding

  static constexpr int kRejectedStatus = 401;
  // The 401's WWW-Authenticate value (RFC 6750 §3): Bearer realm=..., error="invalid_token".
  std::string wwwAuthenticate(std::string_view realm) const;
};

RequestAuthOutcome authenticateRequest(const std::vector<JwtRule>& rules,
                                       const HttpRequest& request,
                                       std::chrono::system_clock::time_point now);

}  // namespace warren::waypoint
