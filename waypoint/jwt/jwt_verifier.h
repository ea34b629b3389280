// JWT verification for RequestAuthentication: a compact JWS (RFC 7515 §7.1) signed RS256 or
// ES256 (RFC 7518 §3.3, §3.4), checked against one issuer's JWKS, with an injected clock.
//
// Checks, in order (the first failure is the error):
//   malformed            not three base64url segments, header/payload not JSON objects, no
//                        "alg", a "crit" header (no extension is understood, RFC 7515
//                        §4.1.11), claims of the wrong JSON type, longer than kMaxTokenBytes
//   wrong issuer         "iss" is not the rule's issuer
//   unsupported alg      anything but RS256/ES256 ("none" and HMAC never verify)
//   unknown kid          no key with the token's "kid" that fits "alg" (no kid: every key of
//                        the right type is tried, as Envoy's jwt_verify_lib does)
//   bad signature        the signature does not verify
//   expired              now > exp + skew            (exp optional)
//   not yet valid        now + skew < nbf            (nbf optional)
//   audience not allowed the rule names audiences and "aud" holds none of them (an absent
//                        "aud" holds none); no audiences in the rule: "aud" is not checked
// Envoy's default clock skew is 60 s (JwtProvider.clock_skew_seconds); so is ours.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/jwt/jwks.h"
#include "waypoint/jwt/jwt_claims.h"

namespace warren::waypoint {

enum class JwtError {
  kMalformed,
  kWrongIssuer,
  kUnsupportedAlgorithm,
  kUnknownKid,
  kBadSignature,
  kExpired,
  kNotYetValid,
  kAudienceNotAllowed,
  kIssuerNotConfigured,  // request_authenticator.h: no jwtRule for the token's issuer
};

struct JwtFailure {
  JwtError error = JwtError::kMalformed;
  std::string detail;  // what exactly: "header: missing alg", "exp 1700000000 < now 1700000100"
  std::string message() const;  // "Jwt is expired: exp 1700000000 ..."
};

const char* toString(JwtError e);  // "expired", "bad_signature", ...

struct JwtVerifierConfig {
  std::string issuer;
  std::vector<std::string> audiences;  // empty: "aud" not checked
  std::chrono::seconds clock_skew{60};
};

constexpr size_t kMaxTokenBytes = 16 * 1024;

// The decoded, not yet verified token.
struct ParsedJwt {
  std::string alg;
  std::string kid;
  std::string signing_input;  // "<header>.<payload>" as received
  std::string signature;      // raw bytes
  nlohmann::json payload;
};

std::expected<ParsedJwt, JwtFailure> parseJwt(std::string_view token);

std::expected<JwtClaims, JwtFailure> verifyJwt(const ParsedJwt& jwt, const Jwks& jwks,
                                               const JwtVerifierConfig& config,
                                               std::chrono::system_clock::time_point now);

}  // namespace warren::waypoint
