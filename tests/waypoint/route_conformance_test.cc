// The Gateway API MESH conformance profile (kubernetes-sigs/gateway-api conformance/tests/mesh/)
// as routing tables: each TEST holds the routes of the scenario's manifest and turns the
// upstream request/expectation pairs into rows, plus what upstream does not check in mesh mode
// (the rewritten path sent upstream and the exact redirect Location). Where the upstream YAML is
// not quoted here, the routes are rebuilt from what the test's rows require; the comment says so.
#include <gtest/gtest.h>

#include <map>

#include "route_builders.h"

namespace warren::waypoint {
namespace {

using namespace testing;

struct Row {
  HttpRequest request;
  RouteDestination destination;
  std::string want;  // outcome(): "echo-v1:80", "status 404", "redirect 302 http://..."
};

void runRows(const RouteTable& table, const std::vector<Row>& rows) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.request.method + " " + row.request.authority + row.request.pathAndQuery());
    ScriptedRandom random;
    EXPECT_EQ(outcome(table.route(row.destination, row.request, random)), row.want);
  }
}

// MeshBasic: "A mesh client can communicate with a mesh server ... with no configuration".
TEST(MeshConformance, MeshBasic) {
  auto table = buildOrDie({});
  ScriptedRandom random;
  auto d = table->route(toService("echo", 80), get("/"), random);
  ASSERT_NE(d.forward(), nullptr);
  EXPECT_EQ(d.forward()->backend.toString(), kMeshNs + "/echo:80");
  EXPECT_FALSE(d.route);
  EXPECT_EQ(d.forward()->request, get("/"));  // untouched
}

// MeshTrafficSplit (mesh-split.yaml: rebuilt from the rows: Exact /v1 -> echo-v1, /v2 -> echo-v2).
TEST(MeshConformance, MeshTrafficSplit) {
  auto table = buildOrDie({httpRoute("mesh-split", {parent("echo", 80)},
                                     {rule({exact("/v1")}, {backend("echo-v1", 80)}),
                                      rule({exact("/v2")}, {backend("echo-v2", 80)})})});
  runRows(*table, {{get("/v1"), toService("echo", 80), "echo-v1:80"},
                   {get("/v2"), toService("echo", 80), "echo-v2:80"},
                   // Not upstream: routes apply, nothing matches -> 404, exact is exact.
                   {get("/v1/"), toService("echo", 80), "status 404"},
                   {get("/v3"), toService("echo", 80), "status 404"}});
}

// MeshFrontend: "Mesh rules should only apply to the associated frontend" (route on echo-v2
// with a response header; a request to the pod IP bypasses it).
TEST(MeshConformance, MeshFrontend) {
  auto table = buildOrDie(
      {httpRoute("mesh-frontend", {parent("echo-v2")},
                 {rule({}, {backend("echo-v2", 80)}, {responseSet("X-Header-Set", "set")})})});
  ScriptedRandom random;
  auto to_service = table->route(toService("echo-v2", 80), get("/", "echo-v2"), random);
  ASSERT_NE(to_service.forward(), nullptr);
  EXPECT_EQ(to_service.forward()->backend.name, "echo-v2");
  HeaderMap response;
  for (const auto& edit : to_service.forward()->response_header_edits) {
    applyHeaderModifier(response, edit);
  }
  EXPECT_EQ(*response.first("x-header-set"), "set");

  auto to_pod =
      table->route(RouteDestination{std::nullopt, 8080}, get("/", "10.244.1.7:8080"), random);
  ASSERT_NE(to_pod.forward(), nullptr);
  EXPECT_EQ(outcome(to_pod), "original:8080");
  EXPECT_TRUE(to_pod.forward()->response_header_edits.empty());  // AbsentHeaders X-Header-Set
}

// MeshPorts: "A mesh route can optionally configure 'port' in parentRef".
TEST(MeshConformance, MeshPorts) {
  auto table = buildOrDie(
      {httpRoute("mesh-ports-v1", {parent("echo-v1", 80)},
                 {rule({}, {backend("echo-v1", 80)}, {responseSet("X-Header-Set", "v1")})}),
       httpRoute("mesh-ports-v2", {parent("echo-v2")},
                 {rule({}, {backend("echo-v2", 80)}, {responseSet("X-Header-Set", "v2")})})});
  struct PortRow {
    std::string service;
    uint16_t port;
    std::optional<std::string> header;
  };
  const PortRow rows[] = {
      {"echo-v1", 80, "v1"},            // Explicit port set, send to that port
      {"echo-v1", 8080, std::nullopt},  // Explicit port, send to an excluded port
      {"echo-v2", 80, "v2"},            // No port set
      {"echo-v2", 8080, "v2"},          // No port set
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.service + ":" + std::to_string(r.port));
    ScriptedRandom random;
    auto d = table->route(toService(r.service, r.port), get("/", r.service), random);
    ASSERT_NE(d.forward(), nullptr);
    EXPECT_EQ(d.forward()->backend.name, r.service);
    HeaderMap response;
    for (const auto& e : d.forward()->response_header_edits) applyHeaderModifier(response, e);
    if (r.header) {
      ASSERT_NE(response.first("x-header-set"), nullptr);
      EXPECT_EQ(*response.first("x-header-set"), *r.header);
    } else {
      EXPECT_EQ(response.first("x-header-set"), nullptr);
      EXPECT_FALSE(d.route);  // the route does not apply: plain forwarding
      EXPECT_EQ(d.forward()->backend.port, 8080);
    }
  }
}

// MeshHTTPRouteMatching (httproute-matching.yaml: rebuilt from the rows: PathPrefix / or
// header version=one -> v1; PathPrefix /v2 or header version=two -> v2).
TEST(MeshConformance, MeshHTTPRouteMatching) {
  auto table = buildOrDie({httpRoute(
      "mesh-matching", {parent("echo", 80)},
      {rule({prefix("/"), withHeader(prefix("/"), "version", "one")}, {backend("echo-v1", 80)}),
       rule({prefix("/v2"), withHeader(prefix("/"), "version", "two")},
            {backend("echo-v2", 80)})})});
  auto svc = toService("echo", 80);
  runRows(*table, {{get("/"), svc, "echo-v1:80"},
                   {get("/example"), svc, "echo-v1:80"},
                   {get("/", "echo", {{"Version", "one"}}), svc, "echo-v1:80"},
                   {get("/v2"), svc, "echo-v2:80"},
                   {get("/v2/example"), svc, "echo-v2:80"},
                   {get("/", "echo", {{"Version", "two"}}), svc, "echo-v2:80"},
                   {get("/v2/"), svc, "echo-v2:80"},
                   {get("/v2example"), svc, "echo-v1:80"},  // not a path segment prefix
                   {get("/foo/v2/example"), svc, "echo-v1:80"}});
}

// MeshHTTPRouteQueryParamMatching (httproute-query-param-matching.yaml: rebuilt from the rows).
TEST(MeshConformance, MeshHTTPRouteQueryParamMatching) {
  auto table = buildOrDie({httpRoute(
      "mesh-query-param-matching", {parent("echo", 80)},
      {rule({withQuery(prefix("/"), "animal", "whale")}, {backend("echo-v1", 80)}),
       rule({withQuery(prefix("/"), "animal", "dolphin")}, {backend("echo-v2", 80)}),
       rule({withQuery(prefix("/path1"), "animal", "whale")}, {backend("echo-v1", 80)}),
       rule({withQuery(withHeader(prefix("/"), "version", "one"), "animal", "whale")},
            {backend("echo-v2", 80)}),
       rule({withQuery(prefix("/path3"), "animal", "shark"),
             withQuery(withHeader(prefix("/path4"), "version", "three"), "animal", "kraken")},
            {backend("echo-v1", 80)}),
       // Precedence: declared first but the /path5 prefix is longer.
       rule({withQuery(prefix("/"), "animal", "hydra")}, {backend("echo-v2", 80)}),
       rule({withQuery(prefix("/path5"), "animal", "hydra")}, {backend("echo-v1", 80)})})});
  auto svc = toService("echo", 80);
  runRows(*table, {{get("/?animal=whale"), svc, "echo-v1:80"},
                   {get("/?animal=dolphin"), svc, "echo-v2:80"},
                   {get("/?animal=whale&otherparam=irrelevant"), svc, "echo-v1:80"},
                   {get("/?animal=dolphin&color=yellow"), svc, "echo-v2:80"},
                   {get("/?color=blue"), svc, "status 404"},
                   {get("/?animal=dog"), svc, "status 404"},
                   {get("/?animal=whaledolphin"), svc, "status 404"},
                   {get("/"), svc, "status 404"},
                   {get("/path1?animal=whale"), svc, "echo-v1:80"},
                   {get("/?animal=whale", "echo", {{"version", "one"}}), svc, "echo-v2:80"},
                   {get("/path3?animal=shark"), svc, "echo-v1:80"},
                   {get("/path4?animal=kraken", "echo", {{"version", "three"}}), svc, "echo-v1:80"},
                   {get("/?animal=shark"), svc, "status 404"},
                   {get("/path4?animal=kraken"), svc, "status 404"},
                   {get("/path5?animal=hydra"), svc, "echo-v1:80"},
                   // Not upstream: names are case-sensitive, values percent-decoded, the
                   // first of a repeated parameter counts.
                   {get("/?ANIMAL=whale"), svc, "status 404"},
                   {get("/?animal=%77hale"), svc, "echo-v1:80"},
                   {get("/?animal=dolphin&animal=whale"), svc, "echo-v2:80"}});
}

// MeshHTTPRouteWeight: 70/30 within ±5% over 500 requests upstream; here the split is exact
// over the whole draw range, and a weight-0 backend never receives a request.
TEST(MeshConformance, MeshHTTPRouteWeight) {
  auto table =
      buildOrDie({httpRoute("mesh-weighted-backends", {parent("echo", 80)},
                            {rule({}, {backend("echo-v1", 80, 70), backend("echo-v2", 80, 30),
                                       backend("echo-v3", 80, 0)})})});
  std::map<std::string, int> seen;
  for (uint64_t point = 0; point < 100; ++point) {
    ScriptedRandom random({point});
    seen[outcome(table->route(toService("echo", 80), get("/"), random))]++;
  }
  EXPECT_EQ(seen["echo-v1:80"], 70);
  EXPECT_EQ(seen["echo-v2:80"], 30);
  EXPECT_EQ(seen.count("echo-v3:80"), 0u);
}

HttpRoute headerModifierRoute(bool backend_level) {
  auto r = [&](std::string path, RequestHeaderModifierFilter f) {
    if (backend_level) return rule({prefix(path)}, {backend("echo-v1", 80, 1, {f})});
    return rule({prefix(path)}, {backend("echo-v1", 80)}, {f});
  };
  return httpRoute("request-header-modifier", {parent("echo", 80)},
                   {r("/set", requestHeaders({{"X-Header-Set", "set-overwrites-values"}}, {}, {})),
                    r("/add", requestHeaders({}, {{"X-Header-Add", "add-appends-values"}}, {})),
                    r("/remove", requestHeaders({}, {}, {"X-Header-Remove"})),
                    r("/multiple", requestHeaders({{"X-Header-Set-1", "header-set-1"},
                                                   {"X-Header-Set-2", "header-set-2"}},
                                                  {{"X-Header-Add-1", "header-add-1"},
                                                   {"X-Header-Add-2", "header-add-2"},
                                                   {"X-Header-Add-3", "header-add-3"}},
                                                  {"X-Header-Remove-1", "X-Header-Remove-2"})),
                    r("/case-insensitivity",
                      requestHeaders({{"X-Header-Set", "header-set"}},
                                     {{"X-Header-Add", "header-add"}}, {"X-Header-Remove"}))});
}

struct HeaderRow {
  HttpRequest request;
  std::map<std::string, std::string> want;  // joined values, as the echo server reports them
  std::vector<std::string> absent;
};

void runHeaderRows(const RouteTable& table, const std::vector<HeaderRow>& rows,
                   const std::string& want_backend, RouteDestination dest) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.request.path);
    ScriptedRandom random;
    auto d = table.route(dest, row.request, random);
    ASSERT_NE(d.forward(), nullptr) << outcome(d);
    EXPECT_EQ(d.forward()->backend.name, want_backend);
    const HeaderMap& h = d.forward()->request.headers;
    for (const auto& [name, value] : row.want) {
      auto got = h.joined(name);
      ASSERT_TRUE(got.has_value()) << name;
      EXPECT_EQ(*got, value) << name;
    }
    for (const auto& name : row.absent) EXPECT_FALSE(h.contains(name)) << name;
    EXPECT_EQ(d.forward()->request.path, row.request.path);  // untouched path
  }
}

const std::vector<HeaderRow>& headerModifierRows() {
  static const std::vector<HeaderRow> rows = {
      {get("/set", "echo", {{"Some-Other-Header", "val"}}),
       {{"Some-Other-Header", "val"}, {"X-Header-Set", "set-overwrites-values"}},
       {}},
      {get("/set", "echo", {{"Some-Other-Header", "val"}, {"X-Header-Set", "some-other-value"}}),
       {{"Some-Other-Header", "val"}, {"X-Header-Set", "set-overwrites-values"}},
       {}},
      {get("/add", "echo", {{"Some-Other-Header", "val"}}),
       {{"Some-Other-Header", "val"}, {"X-Header-Add", "add-appends-values"}},
       {}},
      {get("/add", "echo", {{"Some-Other-Header", "val"}, {"X-Header-Add", "some-other-value"}}),
       {{"Some-Other-Header", "val"}, {"X-Header-Add", "some-other-value,add-appends-values"}},
       {}},
      {get("/remove", "echo", {{"X-Header-Remove", "val"}}), {}, {"X-Header-Remove"}},
      {get("/multiple", "echo",
           {{"X-Header-Set-2", "set-val-2"},
            {"X-Header-Add-2", "add-val-2"},
            {"X-Header-Remove-2", "remove-val-2"},
            {"Another-Header", "another-header-val"}}),
       {{"X-Header-Set-1", "header-set-1"},
        {"X-Header-Set-2", "header-set-2"},
        {"X-Header-Add-1", "header-add-1"},
        {"X-Header-Add-2", "add-val-2,header-add-2"},
        {"X-Header-Add-3", "header-add-3"},
        {"Another-Header", "another-header-val"}},
       {"X-Header-Remove-1", "X-Header-Remove-2"}},
      {get("/case-insensitivity", "echo",
           {{"x-header-set", "original-val-set"},
            {"x-header-add", "original-val-add"},
            {"x-header-remove", "original-val-remove"},
            {"Another-Header", "another-header-val"}}),
       {{"X-Header-Set", "header-set"},
        {"X-Header-Add", "original-val-add,header-add"},
        {"Another-Header", "another-header-val"}},
       {"x-header-remove", "X-Header-Remove"}},
  };
  return rows;
}

// MeshHTTPRouteRequestHeaderModifier.
TEST(MeshConformance, MeshHTTPRouteRequestHeaderModifier) {
  auto table = buildOrDie({headerModifierRoute(false)});
  runHeaderRows(*table, headerModifierRows(), "echo-v1", toService("echo", 80));
}

// MeshHTTPRouteBackendRequestHeaderModifier: the same rows with the filters on the backendRef.
TEST(MeshConformance, MeshHTTPRouteBackendRequestHeaderModifier) {
  auto table = buildOrDie({headerModifierRoute(true)});
  runHeaderRows(*table, headerModifierRows(), "echo-v1", toService("echo", 80));
}

// MeshHTTPRouteRewritePath (httproute-rewrite-path.yaml: rebuilt from the rows). Upstream checks
// the path the backend received; so does this, exactly.
TEST(MeshConformance, MeshHTTPRouteRewritePath) {
  auto rewrite = [](PathModifierType t, std::string v) {
    return UrlRewrite{std::nullopt, PathModifier{t, std::move(v)}};
  };
  auto mods =
      requestHeaders({{"X-Header-Set", "set-overwrites-values"}},
                     {{"X-Header-Add", "header-val-1"}, {"X-Header-Add-Append", "header-val-2"}},
                     {"X-Header-Remove"});
  auto table = buildOrDie({httpRoute(
      "rewrite-path", {parent("echo", 80)},
      {rule({prefix("/prefix/one")}, {backend("echo-v1", 80)},
            {rewrite(PathModifierType::kReplacePrefixMatch, "/one")}),
       rule({prefix("/full/one")}, {backend("echo-v1", 80)},
            {rewrite(PathModifierType::kReplaceFullPath, "/one")}),
       rule({prefix("/full/rewrite-path-and-modify-headers")}, {backend("echo-v1", 80)},
            {rewrite(PathModifierType::kReplaceFullPath, "/test"), mods}),
       rule({prefix("/prefix/rewrite-path-and-modify-headers")}, {backend("echo-v1", 80)},
            {rewrite(PathModifierType::kReplacePrefixMatch, "/prefix"), mods}),
       rule({prefix("/strip-prefix")}, {backend("echo-v1", 80)},
            {rewrite(PathModifierType::kReplacePrefixMatch, "/")})})});
  struct RewriteRow {
    HttpRequest request;
    std::string want_path;
    bool headers_modified = false;
  };
  std::vector<std::pair<std::string, std::string>> in_headers = {
      {"X-Header-Remove", "remove-val"},
      {"X-Header-Add-Append", "append-val-1"},
      {"X-Header-Set", "set-val"}};
  const RewriteRow rows[] = {
      {get("/prefix/one/two"), "/one/two"},
      {get("/strip-prefix/three"), "/three"},
      {get("/strip-prefix"), "/"},
      {get("/full/one/two"), "/one"},
      {get("/full/rewrite-path-and-modify-headers/test", "echo", in_headers), "/test", true},
      {get("/prefix/rewrite-path-and-modify-headers/one", "echo", in_headers), "/prefix/one", true},
      // Not upstream: the query survives a rewrite.
      {get("/prefix/one/two?x=1"), "/one/two"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.request.path);
    ScriptedRandom random;
    auto d = table->route(toService("echo", 80), row.request, random);
    ASSERT_NE(d.forward(), nullptr) << outcome(d);
    EXPECT_EQ(d.forward()->backend.name, "echo-v1");
    EXPECT_EQ(d.forward()->request.path, row.want_path);
    EXPECT_EQ(d.forward()->request.query, row.request.query);
    if (row.headers_modified) {
      const auto& h = d.forward()->request.headers;
      EXPECT_EQ(*h.joined("x-header-add"), "header-val-1");
      EXPECT_EQ(*h.joined("x-header-add-append"), "append-val-1,header-val-2");
      EXPECT_EQ(*h.joined("x-header-set"), "set-overwrites-values");
      EXPECT_FALSE(h.contains("x-header-remove"));
    }
  }
}

RequestRedirect redirectTo(std::optional<std::string> host, int status = 302) {
  RequestRedirect r;
  r.hostname = std::move(host);
  r.status_code = status;
  return r;
}

// The four redirect scenarios, with the full Location upstream does not check in mesh mode.
// Manifests: httproute-redirect-{host-and-status,path,port,scheme}.yaml, quoted rule by rule.
TEST(MeshConformance, MeshHTTPRouteRedirects) {
  auto with_path = [](RequestRedirect r, PathModifierType t, std::string v) {
    r.path = PathModifier{t, std::move(v)};
    return r;
  };
  auto with_port = [](RequestRedirect r, uint16_t p) {
    r.port = p;
    return r;
  };
  auto with_scheme = [](RequestRedirect r, std::string s) {
    r.scheme = std::move(s);
    return r;
  };
  auto redirect_rule = [](std::string path, RequestRedirect r) {
    return rule({prefix(std::move(path))}, {}, {r});
  };
  const auto kPrefix = PathModifierType::kReplacePrefixMatch;
  const auto kFull = PathModifierType::kReplaceFullPath;
  auto none = redirectTo(std::nullopt);
  auto table = buildOrDie({
      httpRoute("mesh-redirect-host-and-status", {parent("echo", 80)},
                {redirect_rule("/hostname-redirect", redirectTo("example.org")),
                 redirect_rule("/host-and-status", redirectTo("example.org", 301)),
                 redirect_rule("/host-and-temporary", redirectTo("example.org", 307)),
                 redirect_rule("/host-and-permanent", redirectTo("example.org", 308))}),
      httpRoute("mesh-redirect-path", {parent("echo", 80)},
                {redirect_rule("/original-prefix", with_path(none, kPrefix, "/replacement-prefix")),
                 redirect_rule("/full", with_path(none, kFull, "/full-path-replacement")),
                 redirect_rule("/path-and-host", with_path(redirectTo("example.org"), kPrefix,
                                                           "/replacement-prefix")),
                 redirect_rule("/path-and-status", with_path(redirectTo(std::nullopt, 301), kPrefix,
                                                             "/replacement-prefix")),
                 redirect_rule("/full-path-and-host",
                               with_path(redirectTo("example.org"), kFull, "/replacement-full")),
                 redirect_rule("/full-path-and-status", with_path(redirectTo(std::nullopt, 301),
                                                                  kFull, "/replacement-full"))}),
      httpRoute("mesh-redirect-port", {parent("echo", 80)},
                {redirect_rule("/port", with_port(none, 8083)),
                 redirect_rule("/port-and-host", with_port(redirectTo("example.org"), 8083)),
                 redirect_rule("/port-and-status", with_port(redirectTo(std::nullopt, 301), 8083)),
                 redirect_rule("/port-and-host-and-status",
                               with_port(redirectTo("example.org", 302), 8083))}),
      httpRoute(
          "mesh-redirect-scheme", {parent("echo", 80)},
          {redirect_rule("/scheme", with_scheme(none, "https")),
           redirect_rule("/scheme-and-host", with_scheme(redirectTo("example.org"), "https")),
           redirect_rule("/scheme-and-status", with_scheme(redirectTo(std::nullopt, 301), "https")),
           redirect_rule("/scheme-and-host-and-status",
                         with_scheme(redirectTo("example.org", 302), "https"))}),
  });
  auto svc = toService("echo", 80);
  runRows(
      *table,
      {// MeshHTTPRouteRedirectHostAndStatus
       {get("/hostname-redirect"), svc, "redirect 302 http://example.org/hostname-redirect"},
       {get("/host-and-status"), svc, "redirect 301 http://example.org/host-and-status"},
       {get("/host-and-temporary"), svc, "redirect 307 http://example.org/host-and-temporary"},
       {get("/host-and-permanent"), svc, "redirect 308 http://example.org/host-and-permanent"},
       // MeshHTTPRouteRedirectPath
       {get("/original-prefix/lemon"), svc, "redirect 302 http://echo/replacement-prefix/lemon"},
       {get("/full/path/original"), svc, "redirect 302 http://echo/full-path-replacement"},
       {get("/path-and-host"), svc, "redirect 302 http://example.org/replacement-prefix"},
       {get("/path-and-status"), svc, "redirect 301 http://echo/replacement-prefix"},
       {get("/full-path-and-host"), svc, "redirect 302 http://example.org/replacement-full"},
       {get("/full-path-and-status"), svc, "redirect 301 http://echo/replacement-full"},
       // MeshHTTPRouteRedirectPort
       {get("/port"), svc, "redirect 302 http://echo:8083/port"},
       {get("/port-and-host"), svc, "redirect 302 http://example.org:8083/port-and-host"},
       {get("/port-and-status"), svc, "redirect 301 http://echo:8083/port-and-status"},
       {get("/port-and-host-and-status"), svc,
        "redirect 302 http://example.org:8083/port-and-host-and-status"},
       // MeshHTTPRouteSchemeRedirect
       {get("/scheme"), svc, "redirect 302 https://echo/scheme"},
       {get("/scheme-and-host"), svc, "redirect 302 https://example.org/scheme-and-host"},
       {get("/scheme-and-status"), svc, "redirect 301 https://echo/scheme-and-status"},
       {get("/scheme-and-host-and-status"), svc,
        "redirect 302 https://example.org/scheme-and-host-and-status"},
       // Not upstream: the query is kept; the Host's port never leaks into the Location.
       {get("/original-prefix/lemon?x=1&y=2", "echo:80"), svc,
        "redirect 302 http://echo/replacement-prefix/lemon?x=1&y=2"}});
}

// MeshHTTPRouteNamedRule: the rule name is reported with the decision.
TEST(MeshConformance, MeshHTTPRouteNamedRule) {
  auto named = rule({prefix("/named")}, {backend("echo-v1", 8080)});
  named.name = "named-rule";
  auto table =
      buildOrDie({httpRoute("http-named-rules", {parent("echo", 80)},
                            {named, rule({prefix("/unnamed")}, {backend("echo-v2", 8080)})})});
  ScriptedRandom random;
  auto a = table->route(toService("echo", 80), get("/named"), random);
  EXPECT_EQ(outcome(a), "echo-v1:8080");
  ASSERT_TRUE(a.route);
  EXPECT_EQ(a.route->rule_name, "named-rule");
  EXPECT_EQ(a.route->toString(),
            "HTTPRoute gateway-conformance-mesh/http-named-rules rule 0 "
            "(named-rule)");
  // Made once by the table and shared with every decision of the rule, not copied per request.
  EXPECT_EQ(a.route->text, a.route->toString());
  EXPECT_EQ(table->route(toService("echo", 80), get("/named/again"), random).route, a.route);
  auto b = table->route(toService("echo", 80), get("/unnamed"), random);
  EXPECT_EQ(outcome(b), "echo-v2:8080");
  EXPECT_FALSE(b.route->rule_name.has_value());
  EXPECT_EQ(b.route->rule_index, 1u);
}

GrpcRoute grpcRoute(std::string name, std::vector<GrpcRouteRule> rules, uint16_t port = 7070) {
  GrpcRoute r;
  r.meta.namespace_ = kMeshNs;
  r.meta.name = std::move(name);
  r.meta.parent_refs = {parent("echo", port)};
  r.rules = std::move(rules);
  return r;
}

const std::string kGrpcService = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

// MeshGRPCRouteWeight (grpcroute-weight.yaml: one rule, echo-v1 70, echo-v2 30, port 7070).
TEST(MeshConformance, MeshGRPCRouteWeight) {
  GrpcRouteRule r;
  r.backend_refs = {backend("echo-v1", 7070, 70), backend("echo-v2", 7070, 30)};
  auto table = buildOrDie({}, {grpcRoute("mesh-grpc-weighted-backends", {r})});
  std::map<std::string, int> seen;
  for (uint64_t point = 0; point < 100; ++point) {
    ScriptedRandom random({point});
    auto d = table->route(toService("echo", 7070), grpcCall(kGrpcService, "Echo"), random);
    seen[outcome(d)]++;
    EXPECT_EQ(d.route->kind, RouteRef::Kind::kGrpcRoute);
  }
  EXPECT_EQ(seen["echo-v1:7070"], 70);
  EXPECT_EQ(seen["echo-v2:7070"], 30);
}

// MeshGRPCRouteRequestHeaderModifier (grpcroute-request-header-modifier.yaml with the x-test-case
// header matches the current test sends).
TEST(MeshConformance, MeshGRPCRouteRequestHeaderModifier) {
  auto grpc_rule = [](std::string method, std::string test_case, RequestHeaderModifierFilter f,
                      std::string to) {
    GrpcRouteRule r;
    GrpcRouteMatch m;
    m.method = GrpcMethodMatch{ValueMatchType::kExact, kGrpcService, std::move(method)};
    m.headers = {{ValueMatchType::kExact, "x-test-case", std::move(test_case)}};
    r.matches = {m};
    r.filters = {f};
    r.backend_refs = {backend(std::move(to), 7070)};
    return r;
  };
  auto table = buildOrDie(
      {},
      {grpcRoute(
          "grpc-request-header-modifier",
          {grpc_rule("Echo", "set",
                     requestHeaders({{"X-Header-Set", "set-overwrites-values"}}, {}, {}),
                     "echo-v1"),
           grpc_rule("Echo", "add",
                     requestHeaders({}, {{"X-Header-Add", "add-appends-values"}}, {}), "echo-v1"),
           grpc_rule("Echo", "remove", requestHeaders({}, {}, {"X-Header-Remove"}), "echo-v1"),
           grpc_rule("EchoTwo", "multi",
                     requestHeaders(
                         {{"X-Header-Set-1", "header-set-1"}, {"X-Header-Set-2", "header-set-2"}},
                         {{"X-Header-Add-1", "header-add-1"}, {"X-Header-Add-2", "header-add-2"}},
                         {"X-Header-Remove-1", "X-Header-Remove-2"}),
                     "echo-v2")})});
  auto svc = toService("echo", 7070);
  struct GrpcRow {
    HttpRequest request;
    std::string backend;
    std::map<std::string, std::string> want;
    std::vector<std::string> absent;
  };
  const GrpcRow rows[] = {
      {grpcCall(kGrpcService, "Echo", "echo:7070",
                {{"x-test-case", "set"},
                 {"some-other-header", "this-header-should-be-set"},
                 {"x-header-set", "this-value-should-be-overwritten"}}),
       "echo-v1",
       {{"x-test-case", "set"},
        {"some-other-header", "this-header-should-be-set"},
        {"x-header-set", "set-overwrites-values"}},
       {}},
      {grpcCall(kGrpcService, "Echo", "echo:7070",
                {{"x-test-case", "add"}, {"x-header-add", "this-value-should-be-appended"}}),
       "echo-v1",
       {{"x-test-case", "add"},
        {"x-header-add", "this-value-should-be-appended,add-appends-values"}},
       {}},
      {grpcCall(kGrpcService, "Echo", "echo:7070",
                {{"x-test-case", "remove"}, {"x-header-remove", "this-should-be-removed"}}),
       "echo-v1",
       {{"x-test-case", "remove"}},
       {"x-header-remove"}},
      {grpcCall(kGrpcService, "EchoTwo", "echo:7070",
                {{"x-test-case", "multi"},
                 {"x-header-set-2", "set-header-2"},
                 {"x-header-add-2", "add-header-2"},
                 {"x-header-remove-2", "should-be-removed-2"}}),
       "echo-v2",
       {{"x-test-case", "multi"},
        {"x-header-set-1", "header-set-1"},
        {"x-header-set-2", "header-set-2"},
        {"x-header-add-1", "header-add-1"},
        {"x-header-add-2", "add-header-2,header-add-2"}},
       {"x-header-remove-1", "x-header-remove-2"}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(*row.request.headers.first("x-test-case"));
    ScriptedRandom random;
    auto d = table->route(svc, row.request, random);
    ASSERT_NE(d.forward(), nullptr) << outcome(d);
    EXPECT_EQ(d.forward()->backend.name, row.backend);
    for (const auto& [k, v] : row.want) EXPECT_EQ(d.forward()->request.headers.joined(k), v) << k;
    for (const auto& k : row.absent) EXPECT_FALSE(d.forward()->request.headers.contains(k)) << k;
  }
  // Not upstream: an unknown method gets UNIMPLEMENTED.
  ScriptedRandom random;
  auto d = table->route(svc, grpcCall(kGrpcService, "Nope", "echo:7070", {{"x-test-case", "set"}}),
                        random);
  ASSERT_NE(d.direct(), nullptr);
  EXPECT_EQ(d.direct()->status, 404);
  EXPECT_EQ(d.direct()->grpc_status, 12);
}

}  // namespace
}  // namespace warren::waypoint
