// RequestAdmission over a PolicyConfig built from warren.l7.v1.WaypointPolicy resources, as the
// agent sends them: one table of requests against DENY / ALLOW (per Service) / dry-run / AUDIT
// policies and a RequestAuthentication with real signed tokens; what each answers (401, 403 and
// their bodies, headers), the request as edited for forwarding, the RequestRecord fields the
// access log prints, and the counters on the registry. Then JwksFetcher against a real HTTP
// server on loopback: keys fetched, refreshed, a failing URI retried and reported.
#include "waypoint/proxy/request_admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/http/http_server.h"
#include "tests/waypoint/jwt_keys.h"
#include "waypoint/proxy/jwks_fetcher.h"

namespace warren::waypoint {
namespace {

namespace l7 = warren::l7::v1;
using testing::TestKey;

const TestKey& key() {
  static const TestKey k = TestKey::ec("k1");
  return k;
}

l7::WaypointPolicy authz(const std::string& name, l7::AuthorizationPolicy::Action action,
                         const std::function<void(l7::Rule&)>& rule,
                         const std::string& service = "") {
  l7::WaypointPolicy w;
  w.set_waypoint("shop/waypoint");
  auto* p = w.mutable_authorization();
  p->set_namespace_("shop");
  p->set_name(name);
  p->set_action(action);
  rule(*p->add_rules());
  auto* t = p->add_targets();
  if (!service.empty()) {
    t->set_kind(l7::PolicyTarget::SERVICE);
    t->set_namespace_("shop");
    t->set_name(service);
  }
  return w;
}

std::map<std::string, l7::WaypointPolicy> resources() {
  std::map<std::string, l7::WaypointPolicy> r;
  r["a"] = authz("deny-admin", l7::AuthorizationPolicy::DENY,
                 [](l7::Rule& x) { x.add_to()->add_paths("/admin*"); });
  r["b"] = authz(
      "allow-api", l7::AuthorizationPolicy::ALLOW,
      [](l7::Rule& x) {
        x.add_from()->add_principals("cluster.local/ns/shop/sa/client");
        x.add_to()->add_methods("GET");
      },
      "api");
  r["c"] = authz(
      "allow-jwt", l7::AuthorizationPolicy::ALLOW,
      [](l7::Rule& x) {
        x.add_from()->add_request_principals("https://issuer/*");
        x.add_to()->add_paths("/jwt/*");
        auto* w = x.add_when();
        w->set_key("request.auth.claims[group]");
        w->add_values("admins");
      },
      "api");
  r["d"] = authz("shadow", l7::AuthorizationPolicy::DENY,
                 [](l7::Rule& x) { x.add_to()->add_paths("/shadow"); });
  r["d"].mutable_authorization()->set_dry_run(true);
  r["e"] = authz("audit", l7::AuthorizationPolicy::AUDIT,
                 [](l7::Rule& x) { x.add_to()->add_paths("/shadow"); });
  l7::WaypointPolicy ra;
  ra.set_waypoint("shop/waypoint");
  auto* a = ra.mutable_authentication();
  a->set_namespace_("shop");
  a->set_name("jwt");
  auto* t = a->add_targets();
  t->set_kind(l7::PolicyTarget::SERVICE);
  t->set_namespace_("shop");
  t->set_name("api");
  auto* j = a->add_jwt_rules();
  j->set_issuer("https://issuer");
  j->set_jwks(testing::jwksJson({&key()}));
  auto* c = j->add_output_claim_to_headers();
  c->set_header("x-jwt-sub");
  c->set_claim("sub");
  r["f"] = ra;
  return r;
}

const std::chrono::system_clock::time_point kNow{std::chrono::seconds(1'800'000'000)};

std::string goodToken() {
  return key().token(
      {{"iss", "https://issuer"}, {"sub", "alice"}, {"group", "admins"}, {"exp", 1'800'000'600}});
}

class RequestAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = PolicyConfig::build(resources(), {}, 1);
    ASSERT_TRUE(config_->diagnostics().empty()) << config_->diagnostics()[0];
    auto a = RequestAdmission::create(
        registry_, [this] { return config_; }, [] { return kNow; });
    ASSERT_TRUE(a) << a.error().message();
    admission_ = std::move(*a);
  }

  ConnectionInfo conn(const std::string& sa) const {
    ConnectionInfo c;
    c.source_identity = *identity::SpiffeId::make("cluster.local", "shop", sa);
    c.source_ip = *net::IpAddress::parse("10.244.1.5");
    c.remote_ip = c.source_ip;
    c.destination_ip = *net::IpAddress::parse("10.96.0.10");
    c.destination_port = 80;
    return c;
  }

  uint64_t counter(const std::string& series) const {
    std::string text = registry_.render();
    auto at = text.find(series + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + series.size() + 1));
  }

  metrics::Registry registry_;
  std::shared_ptr<const PolicyConfig> config_;
  std::unique_ptr<RequestAdmission> admission_;
  const ServiceKey api_{"shop", "api"};
};

TEST_F(RequestAdmissionTest, DecisionTable) {
  struct Case {
    const char* name;
    const char* sa;
    const char* method;
    const char* path;
    std::string token;  // Authorization: Bearer <token> when set
    bool to_api;        // addressed to Service shop/api (else a workload address)
    int status;         // 0: allowed
    const char* details;
    const char* result;  // record.authz.result
    const char* policy;
  };
  const std::string bad = goodToken().substr(0, goodToken().size() - 4) + "AAAA";
  const std::string wrong_issuer =
      key().token({{"iss", "https://other"}, {"sub", "x"}, {"exp", 1'800'000'600}});
  const Case cases[] = {
      {"deny by path", "client", "GET", "/admin/users", "", true, 403,
       "rbac_access_denied_matched_policy[shop/deny-admin]", "denied", "shop/deny-admin"},
      {"deny before allow", "client", "GET", "/admin", "", false, 403,
       "rbac_access_denied_matched_policy[shop/deny-admin]", "denied", "shop/deny-admin"},
      {"allow by principal and method", "client", "GET", "/items", "", true, 0, "", "allowed",
       "shop/allow-api"},
      {"method not allowed", "client", "POST", "/items", "", true, 403,
       "rbac_access_denied_matched_policy[none]", "denied", ""},
      {"other principal", "robot", "GET", "/items", "", true, 403,
       "rbac_access_denied_matched_policy[none]", "denied", ""},
      {"jwt path without a token", "robot", "GET", "/jwt/x", "", true, 403,
       "rbac_access_denied_matched_policy[none]", "denied", ""},
      {"bad signature", "robot", "GET", "/jwt/x", bad, true, 401,
       "jwt_authn_access_denied{bad_signature}", "", ""},
      {"issuer not configured", "robot", "GET", "/jwt/x", wrong_issuer, true, 401,
       "jwt_authn_access_denied{issuer_not_configured}", "", ""},
      {"good token and claim", "robot", "GET", "/jwt/x", goodToken(), true, 0, "", "allowed",
       "shop/allow-jwt"},
      {"workload address: only waypoint-wide policies", "robot", "POST", "/items", "", false, 0, "",
       "", ""},
      {"workload address: tokens not checked", "robot", "GET", "/x", bad, false, 0, "", "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpRequest req;
    req.method = c.method;
    req.authority = "api.shop";
    req.path = c.path;
    if (!c.token.empty()) req.headers.add("authorization", "Bearer " + c.token);
    RequestRecord rec;
    auto reply = admission_->admit(req, conn(c.sa), c.to_api ? &api_ : nullptr, rec);
    if (c.status == 0) {
      EXPECT_FALSE(reply) << reply->status << " " << reply->body;
    } else {
      ASSERT_TRUE(reply);
      EXPECT_EQ(reply->status, c.status);
      if (c.status == 403) {
        EXPECT_EQ(reply->body, "RBAC: access denied");
        EXPECT_TRUE(reply->headers.empty());
      } else {
        ASSERT_EQ(reply->headers.size(), 1u);
        EXPECT_EQ(reply->headers[0].first, "www-authenticate");
        EXPECT_EQ(reply->headers[0].second, "Bearer realm=\"http://api.shop" + std::string(c.path) +
                                                "\", error=\"invalid_token\"");
      }
    }
    EXPECT_EQ(rec.response_code_details, c.details);
    EXPECT_EQ(rec.authz.result, c.result);
    EXPECT_EQ(rec.authz.policy, c.policy);
  }
  EXPECT_EQ(
      counter(
          R"(warren_waypoint_authz_decisions_total{decision="denied",policy="shop/deny-admin"})"),
      2u);
  EXPECT_EQ(counter(R"(warren_waypoint_authz_decisions_total{decision="denied",policy="none"})"),
            3u);
  EXPECT_EQ(counter(R"(warren_waypoint_jwt_authn_total{outcome="rejected"})"), 2u);
  EXPECT_EQ(counter(R"(warren_waypoint_jwt_authn_total{outcome="authenticated"})"), 1u);
}

TEST_F(RequestAdmissionTest, AuthenticatedRequestIsEditedForForwarding) {
  HttpRequest req;
  req.authority = "api.shop";
  req.path = "/jwt/profile";
  req.headers.add("authorization", "Bearer " + goodToken());
  req.headers.add("x-jwt-sub", "forged");
  RequestRecord rec;
  EXPECT_FALSE(admission_->admit(req, conn("robot"), &api_, rec));
  EXPECT_FALSE(req.headers.contains("authorization"));  // forwardOriginalToken: false
  EXPECT_EQ(req.headers.joined("x-jwt-sub").value_or(""), "alice");
  EXPECT_EQ(rec.authz.request_principal, "https://issuer/alice");
}

TEST_F(RequestAdmissionTest, DryRunAndAuditAreRecordedNotEnforced) {
  HttpRequest req;
  req.authority = "api.shop";
  req.path = "/shadow";
  RequestRecord rec;
  EXPECT_FALSE(admission_->admit(req, conn("client"), &api_, rec));
  EXPECT_EQ(rec.authz.result, "allowed");
  EXPECT_EQ(rec.authz.policy, "shop/allow-api");
  EXPECT_EQ(rec.authz.dry_run, "denied shop/shadow");
  EXPECT_EQ(rec.authz.audit, "shop/audit");
  EXPECT_EQ(
      counter(
          R"(warren_waypoint_authz_decisions_total{decision="shadow_denied",policy="shop/shadow"})"),
      1u);
  EXPECT_EQ(
      counter(R"(warren_waypoint_authz_decisions_total{decision="audited",policy="shop/audit"})"),
      1u);
}

TEST_F(RequestAdmissionTest, PlainTcpFailsClosedOnHttpOnlyFields) {
  std::string why;
  // A DENY with an HTTP-only field (paths) drops it on TCP and denies everything (Istio).
  EXPECT_FALSE(admission_->admitConnection(conn("client"), &api_, &why));
  EXPECT_EQ(why, "deny_matched (shop/deny-admin)");
  // An ALLOW that needs a method never matches on TCP: nothing is allowed.
  auto r = resources();
  r.erase("a");
  config_ = PolicyConfig::build(r, {}, 2);
  EXPECT_FALSE(admission_->admitConnection(conn("client"), &api_, &why));
  EXPECT_EQ(why, "no_allow_matched (none)");
  // A workload address: no ALLOW applies, nothing denies.
  EXPECT_TRUE(admission_->admitConnection(conn("client"), nullptr, &why));
}

TEST_F(RequestAdmissionTest, NoPoliciesNoWork) {
  config_ = PolicyConfig::build({}, {}, 2);
  HttpRequest req;
  req.headers.add("authorization", "Bearer garbage");
  RequestRecord rec;
  EXPECT_FALSE(admission_->admit(req, conn("client"), &api_, rec));
  EXPECT_TRUE(req.headers.contains("authorization"));
  EXPECT_EQ(rec.authz.result, "");
}

TEST(PolicyConfigTest, BadValuesAreReportedAndFailClosed) {
  std::map<std::string, l7::WaypointPolicy> r;
  r["x"] = authz("bad-port", l7::AuthorizationPolicy::ALLOW,
                 [](l7::Rule& x) { x.add_to()->add_ports("http"); });
  l7::WaypointPolicy ra;
  ra.mutable_authentication()->set_namespace_("shop");
  ra.mutable_authentication()->set_name("bad-jwks");
  ra.mutable_authentication()->add_targets();
  auto* j = ra.mutable_authentication()->add_jwt_rules();
  j->set_issuer("https://issuer");
  j->set_jwks("{\"keys\": 5}");
  r["y"] = ra;
  auto cfg = PolicyConfig::build(r, {}, 1);
  ASSERT_EQ(cfg->diagnostics().size(), 2u);
  EXPECT_NE(cfg->diagnostics()[0].find("RequestAuthentication shop/bad-jwks"), std::string::npos)
      << cfg->diagnostics()[0];
  EXPECT_NE(cfg->diagnostics()[1].find("AuthorizationPolicy shop/bad-port"), std::string::npos)
      << cfg->diagnostics()[1];
  // The rule without keys fails every token.
  HttpRequest req;
  req.headers.add("authorization", "Bearer " + goodToken());
  auto out = authenticateRequest(cfg->jwtRules(nullptr), req, kNow);
  EXPECT_EQ(out.kind, RequestAuthOutcome::Kind::kRejected);
}

TEST(JwksUri, Parse) {
  auto u = parseJwksUri("http://keys.shop.svc.cluster.local:8080/.well-known/jwks.json");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->host, "keys.shop.svc.cluster.local");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/.well-known/jwks.json");
  auto d = parseJwksUri("http://[fd00::1]");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "[fd00::1]");
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->target, "/");
  auto s = parseJwksUri("https://issuer.example/jwks");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("https is not supported"), std::string::npos);
  EXPECT_FALSE(parseJwksUri("http://host:99999/"));
  EXPECT_FALSE(parseJwksUri("ftp://host/"));
}

TEST(JwksFetcherTest, FetchesRefreshesAndReportsFailures) {
  std::atomic<int> served{0};
  http::Router router;
  router.add("GET", "/jwks", [&](const http::HttpRequest&) {
    ++served;
    return http::HttpResponse::json(200, testing::jwksJson({&key()}));
  });
  auto o = http::HttpServerOptions::at(
      http::ListenAddress::tcp({*net::IpAddress::parse("127.0.0.1"), 0}), "jwks");
  auto server = http::HttpServer::start(std::move(o), std::move(router));
  ASSERT_TRUE(server) << server.error().message();
  const uint16_t port = (*server)->address().socket_address.port;

  std::mutex mu;
  std::map<std::string, size_t> got;
  JwksFetcherOptions opts;
  opts.refresh = std::chrono::seconds(1);
  opts.retry = std::chrono::milliseconds(50);
  // keys.shop resolves (as a mesh Service would) to the loopback server.
  JwksFetcher fetcher(
      opts,
      [&](std::string_view host, uint16_t) -> std::optional<net::SocketAddress> {
        if (host != "keys.shop") return std::nullopt;
        return net::SocketAddress{*net::IpAddress::parse("127.0.0.1"), port};
      },
      [&](const std::string& uri, std::shared_ptr<const Jwks> k) {
        std::lock_guard lock(mu);
        got[uri] = k->keys().size();
      });
  const std::string good = "http://keys.shop/jwks";
  const std::string missing = "http://127.0.0.1:" + std::to_string(port) + "/nothing";
  fetcher.setUris({good, missing});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (served.load() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GE(served.load(), 2) << "fetched once, then refreshed after 1 s";
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(got[good], 1u);
    EXPECT_FALSE(got.contains(missing));
  }
  auto j = fetcher.toJson();
  ASSERT_EQ(j.size(), 2u);
  for (const auto& e : j) {
    if (e["uri"] == missing) {
      EXPECT_GE(e["failures"].get<uint64_t>(), 2u) << "retried";
      EXPECT_NE(e["last_error"].get<std::string>().find("HTTP 404"), std::string::npos) << e;
    } else {
      EXPECT_EQ(e["keys"], 1);
      EXPECT_EQ(e["last_error"], "");
    }
  }
  fetcher.stop();
}

}  // namespace
}  // namespace warren::waypoint
