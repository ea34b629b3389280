// JWT verification (RS256/ES256 against a JWKS, injected clock) and RequestAuthentication.
// Keys are generated when the tests start; none is committed.
#include <gtest/gtest.h>

#include "authz_builders.h"
#include "jwt_keys.h"
#include "waypoint/jwt/jwks.h"
#include "waypoint/jwt/jwt_verifier.h"
#include "waypoint/jwt/request_authenticator.h"
#include "waypoint/route/route_filters.h"

namespace warren::waypoint {
namespace {

using namespace testing;
using std::chrono::seconds;
using Clock = std::chrono::system_clock;

const std::string kIssuer = "https://issuer.example";
constexpr int64_t kNow = 1'750'000'000;
const Clock::time_point kNowTp{seconds(kNow)};

struct Keys {
  TestKey rsa = TestKey::rsa("rsa-1");
  TestKey ec = TestKey::ec("ec-1");
  TestKey rsa_other = TestKey::rsa("rsa-1");  // same kid, different key (a rotated-away key)
  TestKey ec_no_kid = TestKey::ec("");
  std::shared_ptr<const Jwks> jwks =
      std::make_shared<const Jwks>(*Jwks::parse(jwksJson({&rsa, &ec})));
};
Keys& keys() {
  static Keys k;
  return k;
}

nlohmann::json claims(nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json c = {{"iss", kIssuer}, {"sub", "alice"}, {"exp", kNow + 3600}, {"iat", kNow}};
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    if (it.value().is_null()) {
      c.erase(it.key());
    } else {
      c[it.key()] = it.value();
    }
  }
  return c;
}

std::string verifyOutcome(const std::string& token, std::vector<std::string> audiences = {},
                          const Jwks* jwks = nullptr) {
  auto parsed = parseJwt(token);
  if (!parsed) return toString(parsed.error().error);
  auto v = verifyJwt(*parsed, jwks ? *jwks : *keys().jwks,
                     JwtVerifierConfig{kIssuer, std::move(audiences), seconds(60)}, kNowTp);
  if (!v) return toString(v.error().error);
  return "ok " + v->principal;
}

// The same header and signature over another payload (sub changed to "mallory").
std::string tamper(const std::string& token) {
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  return token.substr(0, d1) + "." + base64UrlEncode(claims({{"sub", "mallory"}}).dump()) +
         token.substr(d2);
}

TEST(JwtVerifier, DecisionTable) {
  Keys& k = keys();
  std::string signed_by_other = k.rsa_other.token(claims());
  std::string rsa_header_only = signed_by_other.substr(0, signed_by_other.find('.'));
  struct Case {
    std::string name;
    std::string token;
    std::string want;
    std::vector<std::string> audiences = {};
  };
  const std::string alg_none =
      base64UrlEncode(R"({"alg":"none"})") + "." + base64UrlEncode(claims().dump()) + ".";
  const Case cases[] = {
      {"RS256 valid", k.rsa.token(claims()), "ok https://issuer.example/alice"},
      {"ES256 valid", k.ec.token(claims()), "ok https://issuer.example/alice"},
      {"no kid: every key of the type is tried", k.rsa.token(claims(), {{"kid", nullptr}}),
       "ok https://issuer.example/alice"},
      {"expired", k.rsa.token(claims({{"exp", kNow - 120}})), "expired"},
      {"expired within the 60 s skew", k.rsa.token(claims({{"exp", kNow - 30}})),
       "ok https://issuer.example/alice"},
      {"no exp is accepted", k.rsa.token(claims({{"exp", nullptr}})),
       "ok https://issuer.example/alice"},
      {"not yet valid", k.ec.token(claims({{"nbf", kNow + 120}})), "not_yet_valid"},
      {"nbf within the skew", k.ec.token(claims({{"nbf", kNow + 30}})),
       "ok https://issuer.example/alice"},
      {"wrong issuer", k.rsa.token(claims({{"iss", "https://evil.example"}})), "wrong_issuer"},
      {"no issuer", k.rsa.token(claims({{"iss", nullptr}})), "wrong_issuer"},
      {"unknown kid", k.rsa.token(claims(), {{"kid", "rsa-9"}}), "unknown_kid"},
      {"RS256 naming an EC key's kid", k.rsa.token(claims(), {{"kid", "ec-1"}}), "unknown_kid"},
      {"tampered payload", tamper(k.rsa.token(claims())), "bad_signature"},
      {"signed by another key with the same kid", signed_by_other, "bad_signature"},
      {"ES256 signature of the wrong length",
       [&] {
         auto t = k.ec.token(claims());
         return t.substr(0, t.rfind('.') + 1) + base64UrlEncode(std::string(63, 'x'));
       }(),
       "bad_signature"},
      {"alg none", alg_none, "unsupported_algorithm"},
      {"alg HS256", k.rsa.token(claims(), {{"alg", "HS256"}}), "unsupported_algorithm"},
      {"two segments", rsa_header_only + "." + base64UrlEncode(claims().dump()), "malformed"},
      {"four segments", k.rsa.token(claims()) + ".x", "malformed"},
      {"not base64url", "a$b.c.d", "malformed"},
      {"header not JSON", base64UrlEncode("{nope") + "." + base64UrlEncode("{}") + ".",
       "malformed"},
      {"payload an array",
       base64UrlEncode(R"({"alg":"RS256"})") + "." + base64UrlEncode("[1]") + ".", "malformed"},
      {"crit header", k.rsa.token(claims(), {{"crit", {"exp"}}}), "malformed"},
      {"exp not a number", k.rsa.token(claims({{"exp", "tomorrow"}})), "malformed"},
      {"sub not a string", k.rsa.token(claims({{"sub", 42}})), "malformed"},
      {"too long", k.rsa.token(claims({{"pad", std::string(kMaxTokenBytes, 'x')}})), "malformed"},
      {"audience allowed (list)",
       k.rsa.token(claims({{"aud", {"x", "web"}}})),
       "ok https://issuer.example/alice",
       {"web"}},
      {"audience allowed (string)",
       k.rsa.token(claims({{"aud", "web"}})),
       "ok https://issuer.example/alice",
       {"api", "web"}},
      {"audience not allowed",
       k.rsa.token(claims({{"aud", "api"}})),
       "audience_not_allowed",
       {"web"}},
      {"no aud when audiences are required",
       k.rsa.token(claims()),
       "audience_not_allowed",
       {"web"}},
      {"aud not checked when the rule names none", k.rsa.token(claims({{"aud", "anything"}})),
       "ok https://issuer.example/alice"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(verifyOutcome(c.token, c.audiences), c.want) << c.name;
  }
}

TEST(JwtVerifier, ClaimsForAuthorization) {
  auto token = keys().ec.token(claims({{"aud", {"web", "api"}},
                                       {"azp", "frontend"},
                                       {"groups", {"dev", "admin"}},
                                       {"nested", {{"role", "owner"}}}}));
  auto v = verifyJwt(*parseJwt(token), *keys().jwks, {kIssuer, {}, seconds(60)}, kNowTp);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->issuer, kIssuer);
  EXPECT_EQ(v->subject, "alice");
  EXPECT_EQ(v->principal, "https://issuer.example/alice");
  EXPECT_EQ(v->audiences, (std::vector<std::string>{"web", "api"}));
  EXPECT_EQ(v->presenter, "frontend");
  ASSERT_NE(v->claim({"nested", "role"}), nullptr);
  EXPECT_EQ(*v->claim({"nested", "role"}), "owner");
  EXPECT_EQ(v->claim({"nested", "missing"}), nullptr);
  EXPECT_EQ(v->claim({"groups", "x"}), nullptr);  // not an object

  // The verified identity drives AuthorizationPolicy.
  auto set =
      L7PolicySet::compile({policy("jwt", AuthzAction::kAllow,
                                   {AuthzRule{{requestPrincipals({kIssuer + "/alice"})},
                                              {},
                                              {{"request.auth.claims[groups]", {"admin"}, {}}}}})})
          .set;
  auto conn = mtls("default", "client");
  auto req = request("GET", "/");
  EXPECT_TRUE(set->evaluate(nullptr, AuthzContext(conn, &req, &*v)).allowed);
  EXPECT_FALSE(set->evaluate(nullptr, AuthzContext(conn, &req, nullptr)).allowed);
}

TEST(JwtVerifier, FailureMessages) {
  JwtFailure f{JwtError::kExpired, "exp 1 is before now 2 (skew 60 s)"};
  EXPECT_EQ(f.message(), "Jwt is expired: exp 1 is before now 2 (skew 60 s)");
  EXPECT_EQ((JwtFailure{JwtError::kBadSignature, ""}.message()), "Jwt verification fails");
  auto parsed = parseJwt(keys().rsa.token(claims({{"exp", kNow - 7200}})));
  auto v = verifyJwt(*parsed, *keys().jwks, {kIssuer, {}, seconds(60)}, kNowTp);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(),
            fmt::format("Jwt is expired: exp {} is before now {} (skew 60 s)", kNow - 7200, kNow));
}

TEST(Jwks, ParsesAndRefusesPrecisely) {
  Keys& k = keys();
  EXPECT_EQ(k.jwks->keys().size(), 2u);
  EXPECT_EQ(k.jwks->keys()[0].kid, "rsa-1");
  EXPECT_EQ(k.jwks->keys()[1].algorithm(), "ES256");

  auto single = Jwks::parse(k.ec.jwk().dump());  // a bare JWK
  ASSERT_TRUE(single);
  EXPECT_EQ(single->keys().size(), 1u);

  nlohmann::json mixed = {{"keys",
                           {{{"kty", "oct"}, {"k", "c2VjcmV0"}},
                            {{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}},
                            [&] {
                              auto j = k.rsa.jwk();
                              j["use"] = "enc";
                              return j;
                            }(),
                            k.ec.jwk()}}};
  auto skipped = Jwks::parse(mixed.dump());
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->keys().size(), 1u);
  EXPECT_EQ(skipped->skipped(), 3u);

  auto weak = TestKey::rsa("weak", 1024);
  auto bad_point = k.ec.jwk();
  bad_point["y"] = base64UrlEncode(std::string(32, '\x01'));
  auto bad_b64 = k.rsa.jwk();
  bad_b64["n"] = "not*base64";
  struct Bad {
    std::string json, want;
  };
  const Bad bad[] = {
      {"nope", "JWKS: not a JSON object"},
      {R"({"keys": 3})", "JWKS: 'keys' is not an array"},
      {R"({"keys": []})", "JWKS: no RS256 or ES256 key (0 keys skipped)"},
      {R"({"keys": [{"kty": "oct"}]})", "JWKS: no RS256 or ES256 key (1 keys skipped)"},
      {nlohmann::json{{"keys", {weak.jwk()}}}.dump(),
       "JWKS: keys[0].n: RSA key of 1024 bits; at least 2048 required"},
      {nlohmann::json{{"keys", {bad_b64}}}.dump(), "JWKS: keys[0].n: not base64url"},
  };
  for (const auto& b : bad) {
    auto r = Jwks::parse(b.json);
    ASSERT_FALSE(r) << b.json;
    EXPECT_EQ(r.error().message(), b.want);
  }
  auto off_curve = Jwks::parse(nlohmann::json{{"keys", {bad_point}}}.dump());
  ASSERT_FALSE(off_curve);
  EXPECT_NE(off_curve.error().message().find("keys[0]"), std::string::npos)
      << off_curve.error().message();
}

TEST(Base64Url, RoundTripAndStrictness) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    EXPECT_EQ(base64UrlDecode(base64UrlEncode(s)), s);
  }
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64UrlDecode("Zm9v=").has_value());  // padding in a JWS segment
  EXPECT_EQ(base64UrlDecode("Zm8=", true), "fo");      // accepted in a JWK
  EXPECT_FALSE(base64UrlDecode("Z").has_value());      // impossible length
  EXPECT_FALSE(base64UrlDecode("Zm+v").has_value());   // '+' is not base64url
  EXPECT_FALSE(base64UrlDecode("Zm9=").has_value());
  EXPECT_FALSE(base64UrlDecode("Zh").has_value());  // non-zero leftover bits
}

// --- RequestAuthentication ---------------------------------------------------------------------

JwtRule rule(std::string issuer = kIssuer) {
  JwtRule r;
  r.issuer = std::move(issuer);
  r.jwks = keys().jwks;
  return r;
}

HttpRequest withHeaders(std::vector<std::pair<std::string, std::string>> headers,
                        std::string query = "") {
  HttpRequest r = request("GET", "/");
  r.query = std::move(query);
  for (const auto& [k, v] : headers) r.headers.add(k, v);
  return r;
}

std::string outcome(const RequestAuthOutcome& o) {
  switch (o.kind) {
    case RequestAuthOutcome::Kind::kNoToken:
      return "no token";
    case RequestAuthOutcome::Kind::kAuthenticated:
      return "ok " + o.claims->principal;
    case RequestAuthOutcome::Kind::kRejected:
      return "401 " + std::string(toString(o.failure->error));
  }
  return "?";
}

TEST(RequestAuthentication, Table) {
  Keys& k = keys();
  std::string good = k.rsa.token(claims());
  std::string other_issuer = k.ec.token(claims({{"iss", "https://other.example"}}));
  JwtRule custom_header = rule();
  custom_header.from_headers = {{"x-jwt", ""}};
  JwtRule cookie_rule = rule();
  cookie_rule.from_cookies = {"session"};
  JwtRule other = rule("https://other.example");
  JwtRule no_keys = rule();
  no_keys.jwks = nullptr;
  struct Case {
    std::string name;
    std::vector<JwtRule> rules;
    HttpRequest req;
    std::string want;
  };
  const Case cases[] = {
      {"no token: allowed without identity", {rule()}, withHeaders({}), "no token"},
      {"Authorization: Bearer",
       {rule()},
       withHeaders({{"Authorization", "Bearer " + good}}),
       "ok https://issuer.example/alice"},
      {"the scheme is case-insensitive",
       {rule()},
       withHeaders({{"authorization", "bearer " + good}}),
       "ok https://issuer.example/alice"},
      {"another scheme is not a token",
       {rule()},
       withHeaders({{"Authorization", "Basic YWxpY2U6c2VjcmV0"}}),
       "no token"},
      {"access_token query parameter",
       {rule()},
       withHeaders({}, "a=1&access_token=" + good),
       "ok https://issuer.example/alice"},
      {"an invalid token is 401",
       {rule()},
       withHeaders({{"Authorization", "Bearer " + tamper(good)}}),
       "401 bad_signature"},
      {"an expired token is 401",
       {rule()},
       withHeaders({{"Authorization", "Bearer " + k.rsa.token(claims({{"exp", kNow - 999}}))}}),
       "401 expired"},
      {"garbage after Bearer is 401",
       {rule()},
       withHeaders({{"Authorization", "Bearer x.y"}}),
       "401 malformed"},
      {"an empty Bearer is 401",
       {rule()},
       withHeaders({{"Authorization", "Bearer "}}),
       "401 malformed"},
      {"an issuer no rule names is 401",
       {rule()},
       withHeaders({{"Authorization", "Bearer " + other_issuer}}),
       "401 issuer_not_configured"},
      {"the rule of the token's issuer verifies it",
       {rule(), other},
       withHeaders({{"Authorization", "Bearer " + other_issuer}}),
       "ok https://other.example/alice"},
      {"a custom header location",
       {custom_header},
       withHeaders({{"x-jwt", good}}),
       "ok https://issuer.example/alice"},
      {"a custom location replaces the defaults",
       {custom_header},
       withHeaders({{"Authorization", "Bearer " + good}}),
       "no token"},
      {"a cookie location",
       {cookie_rule},
       withHeaders({{"cookie", "a=1; session=" + good}}),
       "ok https://issuer.example/alice"},
      {"every token must verify",
       {rule()},
       withHeaders({{"Authorization", "Bearer " + good}}, "access_token=bad.token.x"),
       "401 malformed"},
      {"keys not fetched yet: fail closed",
       {no_keys},
       withHeaders({{"Authorization", "Bearer " + good}}),
       "401 unknown_kid"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(outcome(authenticateRequest(c.rules, c.req, kNowTp)), c.want) << c.name;
  }
}

TEST(RequestAuthentication, RequestEdits) {
  Keys& k = keys();
  std::string token = k.rsa.token(claims(
      {{"nested", {{"role", "owner"}}}, {"admin", true}, {"level", 3}, {"groups", {"a", "b"}}}));
  JwtRule r = rule();
  r.output_claim_to_headers = {{"x-sub", "sub"},       {"x-role", "nested.role"},
                               {"x-admin", "admin"},   {"x-level", "level"},
                               {"x-groups", "groups"}, {"x-missing", "nope"}};
  r.output_payload_to_header = "x-jwt-payload";
  auto o = authenticateRequest({r}, withHeaders({{"Authorization", "Bearer " + token}}), kNowTp);
  ASSERT_EQ(o.kind, RequestAuthOutcome::Kind::kAuthenticated);
  HeaderMap h{{"authorization", "Bearer " + token}, {"x-sub", "spoofed"}};
  applyHeaderModifier(h, o.request_edits);
  EXPECT_FALSE(h.contains("authorization"));  // forwardOriginalToken: false
  EXPECT_EQ(*h.first("x-sub"), "alice");      // set, so a client cannot pre-fill it
  EXPECT_EQ(*h.first("x-role"), "owner");
  EXPECT_EQ(*h.first("x-admin"), "true");
  EXPECT_EQ(*h.first("x-level"), "3");
  EXPECT_FALSE(h.contains("x-groups"));
  EXPECT_FALSE(h.contains("x-missing"));
  EXPECT_EQ(*h.first("x-jwt-payload"),
            token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1));

  r.forward_original_token = true;
  auto kept = authenticateRequest({r}, withHeaders({{"Authorization", "Bearer " + token}}), kNowTp);
  EXPECT_TRUE(kept.request_edits.remove.empty());
  EXPECT_EQ(kept.wwwAuthenticate("http://web"),
            R"(Bearer realm="http://web", error="invalid_token")");
}

}  // namespace
}  // namespace warren::waypoint
