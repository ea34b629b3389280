// A JSON Web Key Set (RFC 7517) holding the public keys RequestAuthentication verifies tokens
// with: RSA keys (kty "RSA": n, e; RFC 7518 §6.3.1) for RS256 and EC P-256 keys (kty "EC", crv
// "P-256": x, y; RFC 7518 §6.2.1) for ES256. Keys of other types, curves or uses ("use":
// "enc") are skipped, as Envoy's jwt_verify_lib skips what it cannot use; a set with no usable
// key is an error. RSA keys shorter than 2048 bits are refused (RFC 7518 §3.3 requires at
// least 2048 for RS256). EC points are checked to lie on the curve.
//
// Parsing JSON from the network happens here, once per JWKS fetch or configuration push; the
// per-request path only looks keys up.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace warren::waypoint {

struct Jwk {
  enum class Type { kRsa, kEcP256 };
  Type type = Type::kRsa;
  std::string kid;  // "" when the key has none
  std::string alg;  // "RS256" / "ES256", or "" when the key does not say
  std::shared_ptr<EVP_PKEY> key;
  // The JWS "alg" this key can verify.
  std::string_view algorithm() const { return type == Type::kRsa ? "RS256" : "ES256"; }
};

class Jwks {
 public:
  // `json` is {"keys": [...]} (a single JWK object is accepted too). Errors name the key by
  // index and the member ("keys[1].n: not base64url").
  static Result<Jwks> parse(std::string_view json);

  const std::vector<Jwk>& keys() const { return keys_; }
  size_t skipped() const { return skipped_; }  // keys of an unsupported type/curve/use

 private:
  std::vector<Jwk> keys_;
  size_t skipped_ = 0;
};

}  // namespace warren::waypoint
