// RouteConfig: warren.l7.v1 ServiceRoutes (what the agent serves) turned back into Gateway API
// routes and compiled; table rows of pushes and the decision each request gets.
#include "waypoint/proxy/route_config.h"

#include <gtest/gtest.h>

namespace warren::waypoint {
namespace {

namespace l7 = warren::l7::v1;

class FixedRandom final : public RouteRandom {
 public:
  explicit FixedRandom(uint64_t v) : v_(v) {}
  uint64_t below(uint64_t bound) override { return v_ % bound; }

 private:
  uint64_t v_;
};

l7::RouteMatch prefix(uint32_t rule, const std::string& value) {
  l7::RouteMatch m;
  m.set_rule(rule);
  m.mutable_path()->set_type(l7::PathMatch::PATH_PREFIX);
  m.mutable_path()->set_value(value);
  return m;
}

l7::Backend backend(const std::string& service, uint32_t port, uint32_t weight) {
  l7::Backend b;
  b.set_service(service);
  b.set_port(port);
  b.set_weight(weight);
  return b;
}

// shop/echo (VIP 10.96.0.10) port 80 with the e2e's route: a header match to v2, a 50/50
// split, a redirect; port 81 without routes.
l7::ServiceRoutes echoRoutes() {
  l7::ServiceRoutes sr;
  sr.set_name("echo");
  sr.set_namespace_("shop");
  sr.set_hostname("echo.shop.svc.cluster.local");
  sr.add_addresses(std::string("\x0a\x60\x00\x0a", 4));
  sr.set_waypoint("shop/waypoint");
  l7::PortRoutes* p = sr.add_ports();
  p->set_port(80);
  p->set_name("http");
  p->set_protocol(l7::HTTP1);
  p->set_routes_attached(true);
  l7::RouteRule* r0 = p->add_rules();
  r0->set_route("HTTPRoute/shop/echo-routes");
  r0->set_name("pinned-v2");
  r0->set_index(0);
  *r0->add_backends() = backend("shop/echo-v2.shop.svc.cluster.local", 8080, 1);
  l7::RouteRule* r1 = p->add_rules();
  r1->set_route("HTTPRoute/shop/echo-routes");
  r1->set_name("split");
  r1->set_index(1);
  *r1->add_backends() = backend("shop/echo-v1.shop.svc.cluster.local", 8080, 50);
  *r1->add_backends() = backend("shop/echo-v2.shop.svc.cluster.local", 8080, 50);
  l7::RouteRule* r2 = p->add_rules();
  r2->set_route("HTTPRoute/shop/echo-routes");
  r2->set_index(2);
  auto* redirect = r2->add_filters()->mutable_request_redirect();
  redirect->mutable_path()->set_type(l7::PathModifier::REPLACE_FULL_PATH);
  redirect->mutable_path()->set_value("/new");
  redirect->set_status_code(301);
  // Agent order: prefix /split and /old (longer first), then "/" with a header.
  *p->add_matches() = prefix(1, "/split");
  *p->add_matches() = prefix(2, "/old");
  l7::RouteMatch m = prefix(0, "/");
  auto* h = m.add_headers();
  h->set_name("x-version");
  h->set_value("v2");
  *p->add_matches() = m;
  l7::PortRoutes* plain = sr.add_ports();
  plain->set_port(81);
  plain->set_protocol(l7::PROTOCOL_UNSPECIFIED);
  return sr;
}

HttpRequest request(const std::string& path, HeaderMap headers = {}) {
  HttpRequest r;
  r.authority = "echo.shop";
  r.path = path;
  r.headers = std::move(headers);
  return r;
}

RouteDestination echo(uint16_t port) { return {ServiceKey{"shop", "echo"}, port}; }

TEST(RouteConfig, ServicesPortsAndKeys) {
  auto cfg = RouteConfig::build({{"shop/echo.shop.svc.cluster.local", echoRoutes()}}, 7);
  EXPECT_EQ(cfg->version(), 7u);
  const ServiceConfig* svc = cfg->serviceByVip(*net::IpAddress::parse("10.96.0.10"));
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(svc->key, "shop/echo.shop.svc.cluster.local");
  EXPECT_EQ(svc->ports.at(80).protocol, PortProtocol::kHttp1);
  EXPECT_EQ(svc->ports.at(81).protocol, PortProtocol::kUnspecified);
  EXPECT_EQ(cfg->serviceKey("shop", "echo"), "shop/echo.shop.svc.cluster.local");
  EXPECT_EQ(cfg->serviceKey("shop", "other"), "shop/other.shop.svc.cluster.local");
  ASSERT_EQ(cfg->httpRoutes().size(), 1u);
  EXPECT_EQ(cfg->httpRoutes()[0].rules.size(), 3u);
  EXPECT_EQ(cfg->table().ruleCount(), 3u);
  EXPECT_TRUE(cfg->diagnostics().empty());
}

TEST(RouteConfig, DecisionsForTheRequests) {
  auto cfg = RouteConfig::build({{"k", echoRoutes()}}, 1);
  FixedRandom rnd(0);
  struct Row {
    std::string path;
    HeaderMap headers;
    uint64_t draw;
    std::string expect;  // backend, "redirect <status> <location>", "direct <status>"
    std::string route;
  };
  std::vector<Row> rows = {
      {"/anything",
       {{"x-version", "v2"}},
       0,
       "shop/echo-v2:8080",
       "HTTPRoute shop/echo-routes rule 0 (pinned-v2)"},
      {"/split/1", {}, 0, "shop/echo-v1:8080", "HTTPRoute shop/echo-routes rule 1 (split)"},
      {"/split/1", {}, 99, "shop/echo-v2:8080", "HTTPRoute shop/echo-routes rule 1 (split)"},
      {"/old/page",
       {},
       0,
       "redirect 301 http://echo.shop/new",
       "HTTPRoute shop/echo-routes rule 2"},
      {"/nothing", {}, 0, "direct 404", ""},
      {"/splitx", {}, 0, "direct 404", ""},  // PathPrefix is segment-aware
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.path);
    FixedRandom r(row.draw);
    RouteDecision d = cfg->table().route(echo(80), request(row.path, row.headers), r);
    std::string got;
    if (auto* f = d.forward()) got = f->backend.toString();
    if (auto* rd = d.redirect())
      got = "redirect " + std::to_string(rd->status) + " " + rd->location;
    if (auto* dr = d.direct()) got = "direct " + std::to_string(dr->status);
    EXPECT_EQ(got, row.expect);
    EXPECT_EQ(d.route ? d.route->toString() : "", row.route);
  }
  // Port 81 has no routes: the Service itself on the port dialled.
  RouteDecision d = cfg->table().route(echo(81), request("/x"), rnd);
  ASSERT_NE(d.forward(), nullptr);
  EXPECT_EQ(d.forward()->backend.toString(), "shop/echo:81");
}

TEST(RouteConfig, ABadRuleIsDroppedTheOthersKeepWorking) {
  l7::ServiceRoutes sr = echoRoutes();
  l7::PortRoutes* p = sr.mutable_ports(0);
  l7::RouteRule* bad = p->add_rules();
  bad->set_route("HTTPRoute/shop/bad");
  bad->set_index(0);
  *bad->add_backends() = backend("shop/echo-v1.shop.svc.cluster.local", 8080, 1);
  l7::RouteMatch m;
  m.set_rule(3);
  m.mutable_path()->set_type(l7::PathMatch::REGULAR_EXPRESSION);
  m.mutable_path()->set_value("/(unclosed");
  *p->add_matches() = m;
  auto cfg = RouteConfig::build({{"k", sr}}, 2);
  ASSERT_FALSE(cfg->diagnostics().empty());
  EXPECT_NE(cfg->diagnostics()[0].toString().find("shop/bad"), std::string::npos)
      << cfg->diagnostics()[0].toString();
  EXPECT_EQ(cfg->table().ruleCount(), 3u);
  FixedRandom r(0);
  RouteDecision d = cfg->table().route(echo(80), request("/x", {{"x-version", "v2"}}), r);
  ASSERT_NE(d.forward(), nullptr);
  EXPECT_EQ(d.forward()->backend.toString(), "shop/echo-v2:8080");
}

TEST(RouteConfig, ARouteOnTwoPortsIsOneRouteWithTwoParents) {
  l7::ServiceRoutes sr = echoRoutes();
  *sr.mutable_ports(1) = sr.ports(0);
  sr.mutable_ports(1)->set_port(81);
  auto cfg = RouteConfig::build({{"k", sr}}, 3);
  ASSERT_EQ(cfg->httpRoutes().size(), 1u);
  EXPECT_EQ(cfg->httpRoutes()[0].meta.parent_refs.size(), 2u);
  EXPECT_EQ(cfg->httpRoutes()[0].rules.size(), 3u);
  FixedRandom r(0);
  RouteDecision d = cfg->table().route(echo(81), request("/nothing"), r);
  ASSERT_NE(d.direct(), nullptr);
  EXPECT_EQ(d.direct()->status, 404);
}

// GRPCRoute rules come with their method matches encoded as paths (agent decodeGrpcMatches);
// they become GRPCRoutes again: each encoding gives its GRPCMethodMatch, gRPC calls are routed
// by them (kind GRPCRoute), plain HTTP requests still by the HTTPRoutes.
TEST(RouteConfig, GrpcRoutesAreRebuiltAndRouteGrpcCalls) {
  l7::ServiceRoutes sr = echoRoutes();
  l7::PortRoutes* p = sr.mutable_ports(0);
  struct Row {
    l7::PathMatch::Type type;
    std::string path;
    ValueMatchType want_type;
    std::optional<std::string> service, method;
  };
  const Row rows[] = {
      {l7::PathMatch::EXACT, "/pkg.Svc/Get", ValueMatchType::kExact, "pkg.Svc", "Get"},
      {l7::PathMatch::PATH_PREFIX, "/pkg.Other", ValueMatchType::kExact, "pkg.Other", {}},
      {l7::PathMatch::REGULAR_EXPRESSION, "/[^/]+/Put", ValueMatchType::kExact, {}, "Put"},
      {l7::PathMatch::REGULAR_EXPRESSION,
       "/(pkg\\..*)/([^/]+)",
       ValueMatchType::kRegularExpression,
       "pkg\\..*",
       {}},
  };
  for (uint32_t i = 0; i < std::size(rows); ++i) {
    l7::RouteRule* g = p->add_rules();
    g->set_route("GRPCRoute/shop/grpc");
    g->set_index(i);
    *g->add_backends() = backend("shop/echo-v1.shop.svc.cluster.local", 7070, 1);
    l7::RouteMatch m;
    m.set_rule(static_cast<uint32_t>(p->rules_size() - 1));
    m.mutable_path()->set_type(rows[i].type);
    m.mutable_path()->set_value(rows[i].path);
    *p->add_matches() = m;
  }
  auto cfg = RouteConfig::build({{"k", sr}}, 4);
  EXPECT_TRUE(cfg->diagnostics().empty()) << cfg->toJson().dump();
  ASSERT_EQ(cfg->grpcRoutes().size(), 1u);
  const GrpcRoute& g = cfg->grpcRoutes()[0];
  ASSERT_EQ(g.rules.size(), std::size(rows));
  for (size_t i = 0; i < std::size(rows); ++i) {
    SCOPED_TRACE(rows[i].path);
    ASSERT_EQ(g.rules[i].matches.size(), 1u);
    const auto& m = g.rules[i].matches[0].method;
    ASSERT_TRUE(m);
    EXPECT_EQ(m->type, rows[i].want_type);
    EXPECT_EQ(m->service, rows[i].service);
    EXPECT_EQ(m->method, rows[i].method);
  }
  EXPECT_EQ(cfg->table().ruleCount(), 3u + std::size(rows));
  FixedRandom r(0);
  HttpRequest call = request("/pkg.Svc/Get", {{"content-type", "application/grpc"}});
  call.method = "POST";
  call.protocol = HttpProtocol::kHttp2;
  RouteDecision d = cfg->table().route(echo(80), call, r);
  ASSERT_TRUE(d.route);
  EXPECT_EQ(d.route->kind, RouteRef::Kind::kGrpcRoute);
  ASSERT_NE(d.forward(), nullptr);
  EXPECT_EQ(d.forward()->backend.name, "echo-v1");
  // An HTTP request on the same port is routed by the HTTPRoutes only.
  RouteDecision h = cfg->table().route(echo(80), request("/split"), r);
  ASSERT_TRUE(h.route);
  EXPECT_EQ(h.route->kind, RouteRef::Kind::kHttpRoute);
}

TEST(RouteConfig, EmptyPushServesNothing) {
  auto cfg = RouteConfig::build({}, 0);
  EXPECT_EQ(cfg->serviceByVip(*net::IpAddress::parse("10.96.0.10")), nullptr);
  EXPECT_EQ(cfg->table().ruleCount(), 0u);
  EXPECT_EQ(cfg->toJson()["services"].size(), 0u);
}

}  // namespace
}  // namespace warren::waypoint
