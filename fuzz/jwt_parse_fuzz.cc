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
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/seed_file.h"
#include "tests/waypoint/jwt_keys.h"
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

extern "C" int WarrenFuzzMakeSeeds(const char* dir) {
  using warren::waypoint::testing::TestKey;
  auto rsa = TestKey::rsa("r1");
  auto ec = TestKey::ec("e1");
  auto unknown = TestKey::rsa("r9");
  nlohmann::json good = {{"iss", kIssuer},
                         {"sub", "alice"},
                         {"aud", {"web"}},
                         {"exp", kNow + 3600},
                         {"nested", {{"role", "owner"}}}};
  auto with = [&](nlohmann::json c, const char* k, nlohmann::json v) {
    c[k] = std::move(v);
    return c;
  };
  std::string j = warren::waypoint::testing::jwksJson({&rsa, &ec}) + "\n\n";
  std::string rs = rsa.token(good);
  struct Seed {
    const char* name;
    uint8_t flags;
    std::string body;
  };
  const Seed seeds[] = {
      {"rs256_valid", 2, j + rs},
      {"es256_valid", 0, j + ec.token(good)},
      {"expired", 0, j + rsa.token(with(good, "exp", kNow - 999))},
      {"not_yet_valid", 0, j + ec.token(with(good, "nbf", kNow + 999))},
      {"wrong_issuer", 0, j + rsa.token(with(good, "iss", "https://evil"))},
      {"wrong_audience", 2, j + rsa.token(with(good, "aud", "api"))},
      {"unknown_kid", 0, j + unknown.token(good)},
      {"tampered", 0,
       j + rs.substr(0, rs.find('.') + 1) + base64UrlEncode(with(good, "sub", "eve").dump()) +
           rs.substr(rs.rfind('.'))},
      {"alg_none", 0,
       j + base64UrlEncode(R"({"alg":"none"})") + "." + base64UrlEncode(good.dump()) + "."},
      {"query_param", 1, j + rs},
      {"malformed", 0, j + "a.b"},
      {"bad_jwks", 0, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}\n\n" + rs},
      {"jwks_single_key", 0, ec.jwk().dump() + "\n\n" + ec.token(good)},
  };
  bool ok = true;
  for (const auto& s : seeds) ok = warren::fuzz::writeSeed(dir, s.name, s.flags, s.body) && ok;
  return ok ? 0 : 1;
}
