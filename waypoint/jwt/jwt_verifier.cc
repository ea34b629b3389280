#include "waypoint/jwt/jwt_verifier.h"

#include <fmt/format.h>
#include <openssl/err.h>

#include <algorithm>

#include "common/openssl_ptr.h"
#include "waypoint/jwt/base64url.h"

namespace warren::waypoint {
namespace {

std::unexpected<JwtFailure> failure(JwtError e, std::string detail) {
  return std::unexpected(JwtFailure{e, std::move(detail)});
}

bool verifySignature(EVP_PKEY* key, std::string_view input, std::string_view signature) {
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return false;
  }
  bool ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()) == 1;
  ERR_clear_error();  // a failed verification leaves entries on the thread's queue
  return ok;
}

// ES256 signatures are R || S, 32 bytes each (RFC 7518 §3.4); OpenSSL wants DER.
std::optional<std::string> ecdsaDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  ossl::EcdsaSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &p);
  return der;
}

// A NumericDate claim (RFC 7519 §2): absent is fine, anything but a number is malformed.
std::expected<std::optional<int64_t>, JwtFailure> numericDate(const nlohmann::json& payload,
                                                              const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) return std::optional<int64_t>();
  if (!it->is_number())
    return failure(JwtError::kMalformed, fmt::format("{} is not a number", name));
  double v = it->get<double>();
  if (!(v > -1e15 && v < 1e15)) {
    return failure(JwtError::kMalformed, fmt::format("{} is out of range", name));
  }
  return std::optional<int64_t>(static_cast<int64_t>(v));
}

std::expected<std::vector<std::string>, JwtFailure> audiences(const nlohmann::json& payload) {
  std::vector<std::string> out;
  auto it = payload.find("aud");
  if (it == payload.end()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& a : *it) {
      if (!a.is_string()) return failure(JwtError::kMalformed, "aud holds a non-string");
      out.push_back(a.get<std::string>());
    }
  } else {
    return failure(JwtError::kMalformed, "aud is neither a string nor an array");
  }
  return out;
}

std::expected<std::string, JwtFailure> optionalString(const nlohmann::json& payload,
                                                      const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) return std::string();
  if (!it->is_string()) {
    return failure(JwtError::kMalformed, fmt::format("{} is not a string", name));
  }
  return it->get<std::string>();
}

}  // namespace

const char* toString(JwtError e) {
  switch (e) {
    case JwtError::kMalformed:
      return "malformed";
    case JwtError::kWrongIssuer:
      return "wrong_issuer";
    case JwtError::kUnsupportedAlgorithm:
      return "unsupported_algorithm";
    case JwtError::kUnknownKid:
      return "unknown_kid";
    case JwtError::kBadSignature:
      return "bad_signature";
    case JwtError::kExpired:
      return "expired";
    case JwtError::kNotYetValid:
      return "not_yet_valid";
    case JwtError::kAudienceNotAllowed:
      return "audience_not_allowed";
    case JwtError::kIssuerNotConfigured:
      return "issuer_not_configured";
  }
  return "?";
}

// Envoy's jwt_authn wording where it has one, so access logs read the same.
std::string JwtFailure::message() const {
  const char* head = "";
  switch (error) {
    case JwtError::kMalformed:
      head = "Jwt is not in the form of Header.Payload.Signature";
      break;
    case JwtError::kWrongIssuer:
      head = "Jwt issuer is not configured";
      break;
    case JwtError::kUnsupportedAlgorithm:
      head = "Jwt algorithm is not supported";
      break;
    case JwtError::kUnknownKid:
      head = "Jwks doesn't have key to match kid or alg from Jwt";
      break;
    case JwtError::kBadSignature:
      head = "Jwt verification fails";
      break;
    case JwtError::kExpired:
      head = "Jwt is expired";
      break;
    case JwtError::kNotYetValid:
      head = "Jwt not yet valid";
      break;
    case JwtError::kAudienceNotAllowed:
      head = "Audiences in Jwt are not allowed";
      break;
    case JwtError::kIssuerNotConfigured:
      head = "Jwt issuer is not configured";
      break;
  }
  return detail.empty() ? head : fmt::format("{}: {}", head, detail);
}

std::expected<ParsedJwt, JwtFailure> parseJwt(std::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return failure(JwtError::kMalformed,
                   fmt::format("{} bytes > {}", token.size(), kMaxTokenBytes));
  }
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return failure(JwtError::kMalformed, "not three dot-separated segments");
  }
  auto header_bytes = base64UrlDecode(token.substr(0, d1));
  auto payload_bytes = base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto signature = base64UrlDecode(token.substr(d2 + 1));
  if (!header_bytes || !payload_bytes || !signature) {
    return failure(JwtError::kMalformed, "a segment is not base64url");
  }
  auto header = nlohmann::json::parse(*header_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return failure(JwtError::kMalformed, "header is not a JSON object");
  }
  ParsedJwt out;
  out.payload = nlohmann::json::parse(*payload_bytes, nullptr, false);
  if (out.payload.is_discarded() || !out.payload.is_object()) {
    return failure(JwtError::kMalformed, "payload is not a JSON object");
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) {
    return failure(JwtError::kMalformed, "header: missing alg");
  }
  out.alg = alg->get<std::string>();
  if (auto kid = header.find("kid"); kid != header.end()) {
    if (!kid->is_string()) return failure(JwtError::kMalformed, "header: kid is not a string");
    out.kid = kid->get<std::string>();
  }
  if (header.contains("crit")) {
    return failure(JwtError::kMalformed, "header: crit extensions are not supported");
  }
  out.signing_input.assign(token.substr(0, d2));
  out.signature = std::move(*signature);
  return out;
}

std::expected<JwtClaims, JwtFailure> verifyJwt(const ParsedJwt& jwt, const Jwks& jwks,
                                               const JwtVerifierConfig& config,
                                               std::chrono::system_clock::time_point now) {
  JwtClaims claims;
  auto iss = optionalString(jwt.payload, "iss");
  if (!iss) return std::unexpected(iss.error());
  if (*iss != config.issuer) {
    return failure(JwtError::kWrongIssuer,
                   fmt::format("iss '{}' is not '{}'", *iss, config.issuer));
  }
  claims.issuer = std::move(*iss);

  if (jwt.alg != "RS256" && jwt.alg != "ES256") {
    return failure(JwtError::kUnsupportedAlgorithm, fmt::format("alg '{}'", jwt.alg));
  }
  std::string der;  // ES256: the signature converted once
  if (jwt.alg == "ES256") {
    auto d = ecdsaDer(jwt.signature);
    if (!d) return failure(JwtError::kBadSignature, "ES256 signature is not 64 bytes");
    der = std::move(*d);
  }
  bool candidate = false, verified = false;
  for (const Jwk& key : jwks.keys()) {
    if (key.algorithm() != jwt.alg) continue;
    if (!jwt.kid.empty() && key.kid != jwt.kid) continue;
    candidate = true;
    if (verifySignature(key.key.get(), jwt.signing_input,
                        jwt.alg == "ES256" ? std::string_view(der) : jwt.signature)) {
      verified = true;
      break;
    }
  }
  if (!candidate) {
    return failure(JwtError::kUnknownKid,
                   fmt::format("no {} key{}", jwt.alg,
                               jwt.kid.empty() ? "" : fmt::format(" with kid '{}'", jwt.kid)));
  }
  if (!verified) return failure(JwtError::kBadSignature, "");

  int64_t t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  int64_t skew = config.clock_skew.count();
  auto exp = numericDate(jwt.payload, "exp");
  if (!exp) return std::unexpected(exp.error());
  if (*exp && t > **exp + skew) {
    return failure(JwtError::kExpired,
                   fmt::format("exp {} is before now {} (skew {} s)", **exp, t, skew));
  }
  auto nbf = numericDate(jwt.payload, "nbf");
  if (!nbf) return std::unexpected(nbf.error());
  if (*nbf && t + skew < **nbf) {
    return failure(JwtError::kNotYetValid,
                   fmt::format("nbf {} is after now {} (skew {} s)", **nbf, t, skew));
  }

  auto aud = audiences(jwt.payload);
  if (!aud) return std::unexpected(aud.error());
  if (!config.audiences.empty() &&
      std::none_of(aud->begin(), aud->end(), [&](const std::string& a) {
        return std::find(config.audiences.begin(), config.audiences.end(), a) !=
               config.audiences.end();
      })) {
    return failure(JwtError::kAudienceNotAllowed,
                   aud->empty() ? "no aud claim" : fmt::format("aud '{}'", fmt::join(*aud, "','")));
  }
  claims.audiences = std::move(*aud);

  auto sub = optionalString(jwt.payload, "sub");
  if (!sub) return std::unexpected(sub.error());
  claims.subject = std::move(*sub);
  auto azp = optionalString(jwt.payload, "azp");
  if (!azp) return std::unexpected(azp.error());
  claims.presenter = std::move(*azp);
  claims.principal = claims.issuer + "/" + claims.subject;
  claims.payload = jwt.payload;
  return claims;
}

}  // namespace warren::waypoint
