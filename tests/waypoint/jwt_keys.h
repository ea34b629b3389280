// Test-only signing keys, generated at run time (no private key is committed): RSA 2048 and EC
// P-256, their JWKS entries, and a token maker.
#pragma once

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/openssl_ptr.h"
#include "waypoint/jwt/base64url.h"

namespace warren::waypoint::testing {

struct TestKey {
  std::string alg;  // "RS256" / "ES256"
  std::string kid;
  std::shared_ptr<EVP_PKEY> key;

  static TestKey rsa(std::string kid, size_t bits = 2048) {
    return {
        "RS256", std::move(kid),
        std::shared_ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits), EVP_PKEY_free)};
  }
  static TestKey ec(std::string kid) {
    return {"ES256", std::move(kid),
            std::shared_ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                      EVP_PKEY_free)};
  }

  static std::string bn(EVP_PKEY* k, const char* name, int pad = 0) {
    BIGNUM* raw = nullptr;
    EVP_PKEY_get_bn_param(k, name, &raw);
    ossl::BigNum b(raw);
    std::string out(pad ? static_cast<size_t>(pad) : static_cast<size_t>(BN_num_bytes(b.get())),
                    '\0');
    if (pad) {
      BN_bn2binpad(b.get(), reinterpret_cast<unsigned char*>(out.data()), pad);
    } else {
      BN_bn2bin(b.get(), reinterpret_cast<unsigned char*>(out.data()));
    }
    return out;
  }

  // The public JWK.
  nlohmann::json jwk() const {
    if (alg == "RS256") {
      return {{"kty", "RSA"},
              {"kid", kid},
              {"alg", "RS256"},
              {"use", "sig"},
              {"n", base64UrlEncode(bn(key.get(), OSSL_PKEY_PARAM_RSA_N))},
              {"e", base64UrlEncode(bn(key.get(), OSSL_PKEY_PARAM_RSA_E))}};
    }
    return {{"kty", "EC"},
            {"crv", "P-256"},
            {"kid", kid},
            {"x", base64UrlEncode(bn(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", base64UrlEncode(bn(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  }

  std::string sign(std::string_view input) const {
    ossl::MdCtx ctx(EVP_MD_CTX_new());
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get());
    size_t len = 0;
    EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    if (alg == "RS256") return sig;
    // DER -> R || S (RFC 7518 §3.4).
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ossl::EcdsaSig es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    return raw;
  }

  // A compact JWS; `header` overrides/extends {"alg", "kid", "typ"}.
  std::string token(const nlohmann::json& payload,
                    const nlohmann::json& header_extra = nlohmann::json::object()) const {
    nlohmann::json header = {{"alg", alg}, {"typ", "JWT"}};
    if (!kid.empty()) header["kid"] = kid;
    for (auto it = header_extra.begin(); it != header_extra.end(); ++it) {
      if (it.value().is_null()) {
        header.erase(it.key());
      } else {
        header[it.key()] = it.value();
      }
    }
    std::string input = base64UrlEncode(header.dump()) + "." + base64UrlEncode(payload.dump());
    return input + "." + base64UrlEncode(sign(input));
  }
};

inline std::string jwksJson(std::initializer_list<const TestKey*> keys) {
  nlohmann::json arr = nlohmann::json::array();
  for (const TestKey* k : keys) arr.push_back(k->jwk());
  return nlohmann::json{{"keys", arr}}.dump();
}

}  // namespace warren::waypoint::testing
