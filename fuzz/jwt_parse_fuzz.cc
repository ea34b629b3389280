// Fuzzes JWT handling: JWKS parsing, compact-JWS parsing, RS256/ES256 verification and
// RequestAuthentication, with a fixed clock.
//
// Input: byte 0 = flags (bit 0: the token is also sent as ?access_token=, bit 1: the rule names
// audience "web"); then a JWKS document, "\n\n", and a token.
// Properties: no crash; a JWKS that parses has at least one key; every failure has a message;
// a verified token's principal is "<iss>/<sub>" and its issuer the configured one; parse and
// verify agree with RequestAuthentication's outcome for a lone Authorization header.
// Seeds (`--make-seeds`) are built from keys generated on the spot: each seed holds only the
// public JWKS and signed tokens, never a private key.
// fuzz-link: warren_waypoint_core
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/openssl_ptr.h"
#include "fuzz/seed_file.h"
#include "waypoint/jwt/base64url.h"
#include "waypoint/jwt/jwks.h"
#include "waypoint/jwt/jwt_verifier.h"
#include "waypoint/jwt/request_authenticator.h"

using namespace warren::waypoint;

namespace {

constexpr int64_t kNow = 1'750'000'000;
const char* kIssuer = "https://issuer.fuzz";

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t split = rest.find("\n\n");
  std::string_view jwks_text = rest.substr(0, split);
  std::string_view token = split == std::string_view::npos ? "" : rest.substr(split + 2);
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(kNow));

  auto jwks = Jwks::parse(jwks_text);
  if (jwks) {
    check(!jwks->keys().empty());
  } else {
    check(!jwks.error().message().empty());
  }

  JwtVerifierConfig config{kIssuer, {}, std::chrono::seconds(60)};
  if (flags & 2) config.audiences = {"web"};
  auto parsed = parseJwt(token);
  std::optional<bool> verified;
  if (!parsed) {
    check(!parsed.error().message().empty());
  } else if (jwks) {
    auto claims = verifyJwt(*parsed, *jwks, config, now);
    verified = claims.has_value();
    if (claims) {
      check(claims->issuer == kIssuer);
      check(claims->principal == claims->issuer + "/" + claims->subject);
    } else {
      check(!claims.error().message().empty());
    }
  }

  JwtRule rule;
  rule.issuer = kIssuer;
  rule.audiences = config.audiences;
  if (jwks) rule.jwks = std::make_shared<const Jwks>(std::move(*jwks));
  HttpRequest req;
  req.headers.add("authorization", "Bearer " + std::string(token));
  if (flags & 1) req.query = "access_token=" + std::string(token.substr(0, 64));
  auto outcome = authenticateRequest({rule}, req, now);
  if (outcome.kind == RequestAuthOutcome::Kind::kRejected) {
    check(outcome.failure.has_value() && !outcome.failure->message().empty());
  }
  if (outcome.kind == RequestAuthOutcome::Kind::kAuthenticated) {
    check(outcome.claims->issuer == kIssuer);
    check(!outcome.request_edits.remove.empty());  // the Authorization header is dropped
  }
  // With only the header, the outcome is exactly parse + verify.
  if (!(flags & 1) && verified.has_value()) {
    bool plain = !token.empty() && token.front() != ' ' && token.back() != ' ';
    if (plain && rule.jwks) {  // the header extractor trims spaces, parseJwt does not
      check(*verified == (outcome.kind == RequestAuthOutcome::Kind::kAuthenticated));
    }
  }
  return 0;
}

namespace {

using warren::ossl::BigNum;

std::string bn(EVP_PKEY* k, const char* name, int pad) {
  BIGNUM* raw = nullptr;
  EVP_PKEY_get_bn_param(k, name, &raw);
  BigNum b(raw);
  std::string out(pad ? static_cast<size_t>(pad) : static_cast<size_t>(BN_num_bytes(b.get())),
                  '\0');
  if (pad) {
    BN_bn2binpad(b.get(), reinterpret_cast<unsigned char*>(out.data()), pad);
  } else {
    BN_bn2bin(b.get(), reinterpret_cast<unsigned char*>(out.data()));
  }
  return out;
}

std::string sign(EVP_PKEY* key, bool ec, const std::string& input) {
  warren::ossl::MdCtx ctx(EVP_MD_CTX_new());
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
  size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size());
  sig.resize(len);
  if (!ec) return sig;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  warren::ossl::EcdsaSig es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  return raw;
}

std::string token(EVP_PKEY* key, bool ec, const std::string& kid, const nlohmann::json& claims) {
  nlohmann::json header = {{"alg", ec ? "ES256" : "RS256"}, {"typ", "JWT"}, {"kid", kid}};
  std::string input = base64UrlEncode(header.dump()) + "." + base64UrlEncode(claims.dump());
  return input + "." + base64UrlEncode(sign(key, ec, input));
}

}  // namespace

extern "C" int WarrenFuzzMakeSeeds(const char* dir) {
  warren::ossl::PKey rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  warren::ossl::PKey ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  nlohmann::json jwks = {{"keys",
                          {{{"kty", "RSA"},
                            {"kid", "r1"},
                            {"alg", "RS256"},
                            {"n", base64UrlEncode(bn(rsa.get(), OSSL_PKEY_PARAM_RSA_N, 0))},
                            {"e", base64UrlEncode(bn(rsa.get(), OSSL_PKEY_PARAM_RSA_E, 0))}},
                           {{"kty", "EC"},
                            {"crv", "P-256"},
                            {"kid", "e1"},
                            {"x", base64UrlEncode(bn(ec.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
                            {"y", base64UrlEncode(bn(ec.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}}}}};
  nlohmann::json good = {{"iss", kIssuer},
                         {"sub", "alice"},
                         {"aud", {"web"}},
                         {"exp", kNow + 3600},
                         {"nested", {{"role", "owner"}}}};
  auto with = [&](nlohmann::json c, const char* k, nlohmann::json v) {
    c[k] = std::move(v);
    return c;
  };
  std::string j = jwks.dump() + "\n\n";
  std::string rs = token(rsa.get(), false, "r1", good);
  struct Seed {
    const char* name;
    uint8_t flags;
    std::string body;
  };
  const Seed seeds[] = {
      {"rs256_valid", 2, j + rs},
      {"es256_valid", 0, j + token(ec.get(), true, "e1", good)},
      {"expired", 0, j + token(rsa.get(), false, "r1", with(good, "exp", kNow - 999))},
      {"not_yet_valid", 0, j + token(ec.get(), true, "e1", with(good, "nbf", kNow + 999))},
      {"wrong_issuer", 0, j + token(rsa.get(), false, "r1", with(good, "iss", "https://evil"))},
      {"wrong_audience", 2, j + token(rsa.get(), false, "r1", with(good, "aud", "api"))},
      {"unknown_kid", 0, j + token(rsa.get(), false, "r9", good)},
      {"tampered", 0,
       j + rs.substr(0, rs.find('.') + 1) + base64UrlEncode(with(good, "sub", "eve").dump()) +
           rs.substr(rs.rfind('.'))},
      {"alg_none", 0,
       j + base64UrlEncode(R"({"alg":"none"})") + "." + base64UrlEncode(good.dump()) + "."},
      {"query_param", 1, j + rs},
      {"malformed", 0, j + "a.b"},
      {"bad_jwks", 0, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}\n\n" + rs},
      {"jwks_single_key", 0, jwks["keys"][1].dump() + "\n\n" + token(ec.get(), true, "e1", good)},
  };
  bool ok = true;
  for (const auto& s : seeds) ok = warren::fuzz::writeSeed(dir, s.name, s.flags, s.body) && ok;
  return ok ? 0 : 1;
}
