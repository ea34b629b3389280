#include "waypoint/jwt/jwks.h"

#include <fmt/format.h>
#include <openssl/core_names.h>

#include <nlohmann/json.hpp>

#include "common/identity/openssl_errors.h"
#include "common/openssl_ptr.h"
#include "waypoint/jwt/base64url.h"

namespace warren::waypoint {
namespace {

constexpr int kMinRsaBits = 2048;

Result<std::string> member(const nlohmann::json& jwk, const char* name, const std::string& at) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return fail(Error::invalid(fmt::format("{}.{}: missing or not a string", at, name)));
  }
  auto bytes = base64UrlDecode(it->get_ref<const std::string&>(), true);
  if (!bytes || bytes->empty()) {
    return fail(Error::invalid(fmt::format("{}.{}: not base64url", at, name)));
  }
  return *bytes;
}

std::shared_ptr<EVP_PKEY> share(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

Result<std::shared_ptr<EVP_PKEY>> fromParams(const char* type, OSSL_PARAM_BLD* bld,
                                             const std::string& at) {
  ossl::Params params(OSSL_PARAM_BLD_to_param(bld));
  ossl::PKeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return fail(identity::opensslError(ErrorCode::kInvalidArgument, at + ": not a valid key"));
  }
  return share(raw);
}

Result<std::shared_ptr<EVP_PKEY>> rsaKey(const nlohmann::json& jwk, const std::string& at) {
  auto n = member(jwk, "n", at);
  if (!n) return fail(n.error());
  auto e = member(jwk, "e", at);
  if (!e) return fail(e.error());
  ossl::BigNum bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                              static_cast<int>(n->size()), nullptr));
  ossl::BigNum bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                              static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return fail(Error(ErrorCode::kInternal, at + ": out of memory"));
  if (BN_num_bits(bn_n.get()) < kMinRsaBits) {
    return fail(Error::invalid(fmt::format("{}.n: RSA key of {} bits; at least {} required", at,
                                           BN_num_bits(bn_n.get()), kMinRsaBits)));
  }
  ossl::ParamBuilder bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return fail(Error(ErrorCode::kInternal, at + ": building RSA parameters"));
  }
  return fromParams("RSA", bld.get(), at);
}

Result<std::shared_ptr<EVP_PKEY>> ecKey(const nlohmann::json& jwk, const std::string& at) {
  auto x = member(jwk, "x", at);
  if (!x) return fail(x.error());
  auto y = member(jwk, "y", at);
  if (!y) return fail(y.error());
  if (x->size() != 32 || y->size() != 32) {
    return fail(Error::invalid(fmt::format("{}: P-256 coordinates must be 32 bytes (x {}, y {})",
                                           at, x->size(), y->size())));
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  static const char kGroup[] = "prime256v1";
  ossl::ParamBuilder bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroup, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return fail(Error(ErrorCode::kInternal, at + ": building EC parameters"));
  }
  auto key = fromParams("EC", bld.get(), at);
  if (!key) return key;
  ossl::PKeyCtx check(EVP_PKEY_CTX_new(key->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return fail(
        identity::opensslError(ErrorCode::kInvalidArgument, at + ": the point is not on P-256"));
  }
  return key;
}

}  // namespace

Result<Jwks> Jwks::parse(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(Error::invalid("JWKS: not a JSON object"));
  }
  nlohmann::json keys;
  if (doc.contains("keys")) {
    keys = doc["keys"];
    if (!keys.is_array()) return fail(Error::invalid("JWKS: 'keys' is not an array"));
  } else {
    keys = nlohmann::json::array({doc});
  }
  Jwks out;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& jwk = keys[i];
    std::string at = fmt::format("keys[{}]", i);
    if (!jwk.is_object()) return fail(Error::invalid(at + ": not an object"));
    auto str = [&](const char* name) -> std::string {
      auto it = jwk.find(name);
      return it != jwk.end() && it->is_string() ? it->get<std::string>() : "";
    };
    std::string kty = str("kty"), use = str("use"), alg = str("alg");
    if (use == "enc") {
      ++out.skipped_;
      continue;
    }
    Jwk key;
    key.kid = str("kid");
    key.alg = alg;
    Result<std::shared_ptr<EVP_PKEY>> pkey = fail(Error::invalid(""));
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
      key.type = Jwk::Type::kRsa;
      pkey = rsaKey(jwk, at);
    } else if (kty == "EC" && str("crv") == "P-256" && (alg.empty() || alg == "ES256")) {
      key.type = Jwk::Type::kEcP256;
      pkey = ecKey(jwk, at);
    } else {
      ++out.skipped_;  // another kty, curve or algorithm: unusable, not wrong
      continue;
    }
    if (!pkey) return fail(pkey.error().wrap("JWKS"));
    key.key = std::move(*pkey);
    out.keys_.push_back(std::move(key));
  }
  if (out.keys_.empty()) {
    return fail(
        Error::invalid(fmt::format("JWKS: no RS256 or ES256 key ({} keys skipped)", out.skipped_)));
  }
  return out;
}

}  // namespace warren::waypoint
