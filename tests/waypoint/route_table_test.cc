// The routing engine against the Gateway API spec text (httproute_types.go): precedence, path
// semantics, filters, backends, and the build-time diagnostics.
#include "waypoint/route/route_table.h"

#include <gtest/gtest.h>

#include "route_builders.h"

namespace warren::waypoint {
namespace {

using namespace testing;

struct PrecedenceCase {
  std::string name;
  std::vector<HttpRoute> routes;
  HttpRequest request;
  std::string want;
};

TEST(RouteTable, PrecedenceTable) {
  auto svc = toService("echo", 80);
  auto one = [](std::string name, HttpRouteMatch m, std::string to, int64_t created = 1000,
                std::string ns = kMeshNs) {
    return httpRoute(std::move(name), {parent("echo", 80)}, {rule({m}, {backend(to, 80)})}, created,
                     std::move(ns));
  };
  const PrecedenceCase cases[] = {
      {"exact beats a longer prefix",
       {one("a", prefix("/foo/bar/baz"), "prefix"), one("b", exact("/foo/bar/baz"), "exact")},
       get("/foo/bar/baz"),
       "exact:80"},
      {"longest prefix wins",
       {one("a", prefix("/foo"), "short"), one("b", prefix("/foo/bar"), "long")},
       get("/foo/bar/x"),
       "long:80"},
      {"trailing slash of a prefix does not make it longer",
       {one("a", prefix("/foo/"), "slash", 2000), one("b", prefix("/foo"), "plain", 1000)},
       get("/foo/x"),
       "plain:80"},
      {"any prefix beats a regex (implementation-specific, as Istio)",
       {one("a", regex("/foo/.*"), "regex"), one("b", prefix("/"), "root")},
       get("/foo/x"),
       "root:80"},
      {"exact beats a regex",
       {one("a", regex("/foo"), "regex"), one("b", exact("/foo"), "exact")},
       get("/foo"),
       "exact:80"},
      {"longer regex first",
       {one("a", regex("/f.*"), "short"), one("b", regex("/foo/[a-z]+"), "long")},
       get("/foo/x"),
       "long:80"},
      {"method beats headers",
       {one("a", withHeader(withHeader(prefix("/"), "a", "1"), "b", "2"), "headers"),
        one("b", withMethod(prefix("/"), "GET"), "method")},
       get("/", "echo", {{"a", "1"}, {"b", "2"}}),
       "method:80"},
      {"more headers win",
       {one("a", withHeader(prefix("/"), "a", "1"), "one"),
        one("b", withHeader(withHeader(prefix("/"), "a", "1"), "b", "2"), "two")},
       get("/", "echo", {{"a", "1"}, {"b", "2"}}),
       "two:80"},
      {"headers beat query params",
       {one("a", withQuery(withQuery(prefix("/"), "x", "1"), "y", "2"), "query"),
        one("b", withHeader(prefix("/"), "a", "1"), "header")},
       get("/?x=1&y=2", "echo", {{"a", "1"}}),
       "header:80"},
      {"more query params win",
       {one("a", withQuery(prefix("/"), "x", "1"), "one"),
        one("b", withQuery(withQuery(prefix("/"), "x", "1"), "y", "2"), "two")},
       get("/?x=1&y=2"),
       "two:80"},
      {"duplicate header names count once",
       {one("a", withHeader(withHeader(prefix("/"), "a", "1"), "A", "1"), "dup", 1000),
        one("b", withHeader(prefix("/"), "b", "2"), "single", 500)},
       get("/", "echo", {{"a", "1"}, {"b", "2"}}),
       "single:80"},
      {"tie: the oldest route wins",
       {one("a", prefix("/"), "newer", 2000), one("b", prefix("/"), "older", 1000)},
       get("/"),
       "older:80"},
      {"tie and same age: namespace/name alphabetical",
       {one("zeta", prefix("/"), "z"), one("alpha", prefix("/"), "a")},
       get("/"),
       "a:80"},
      {"tie on name across namespaces: namespace first",
       {one("r", prefix("/"), "ns-b", 1000, "b"), one("r", prefix("/"), "ns-a", 1000, "a")},
       get("/"),
       "ns-a:80"},
      {"within a route, the first rule",
       {httpRoute("r", {parent("echo", 80)},
                  {rule({prefix("/")}, {backend("first", 80)}),
                   rule({prefix("/")}, {backend("second", 80)})})},
       get("/"),
       "first:80"},
      {"a better match in a later rule still wins",
       {httpRoute("r", {parent("echo", 80)},
                  {rule({prefix("/")}, {backend("first", 80)}),
                   rule({exact("/x")}, {backend("second", 80)})})},
       get("/x"),
       "second:80"},
      {"matches of a rule are OR-ed",
       {httpRoute("r", {parent("echo", 80)},
                  {rule({exact("/a"), exact("/b")}, {backend("ab", 80)})})},
       get("/b"),
       "ab:80"},
      {"conditions of a match are AND-ed",
       {httpRoute(
           "r", {parent("echo", 80)},
           {rule({withMethod(withHeader(exact("/a"), "x", "1"), "POST")}, {backend("ab", 80)})})},
       get("/a", "echo", {{"x", "1"}}),
       "status 404"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto table = buildOrDie(c.routes);
    ScriptedRandom random;
    EXPECT_EQ(outcome(table->route(svc, c.request, random)), c.want);
  }
}

TEST(RouteTable, PathMatchSemantics) {
  struct PathCase {
    HttpRouteMatch match;
    std::string path;
    bool want;
  };
  const PathCase cases[] = {
      // Exact: case-sensitive, no trailing-slash folding.
      {exact("/abc"), "/abc", true},
      {exact("/abc"), "/abc/", false},
      {exact("/abc"), "/Abc", false},
      {exact("/abc"), "/abcd", false},
      // PathPrefix: element by element; a trailing '/' is ignored.
      {prefix("/abc"), "/abc", true},
      {prefix("/abc"), "/abc/", true},
      {prefix("/abc"), "/abc/def", true},
      {prefix("/abc"), "/abcd", false},
      {prefix("/abc/"), "/abc", true},
      {prefix("/abc/"), "/abc/def", true},
      {prefix("/abc/"), "/abcd", false},
      {prefix("/"), "/anything/at/all", true},
      {prefix("/a/b"), "/a/bc", false},
      {prefix("/a/b"), "/a/b/c", true},
      {prefix("/ABC"), "/abc", false},
      // RegularExpression: RE2, the whole path.
      {regex("/v[0-9]+"), "/v2", true},
      {regex("/v[0-9]+"), "/v2/x", false},
      {regex("/v[0-9]+"), "/xv2", false},
      {regex("/(a|b)/.*"), "/b/c", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.match.path.value + " vs " + c.path);
    auto table =
        buildOrDie({httpRoute("r", {parent("echo", 80)}, {rule({c.match}, {backend("hit", 80)})})});
    ScriptedRandom random;
    EXPECT_EQ(outcome(table->route(toService("echo", 80), get(c.path), random)),
              c.want ? "hit:80" : "status 404");
  }
}

TEST(RouteTable, HeaderAndQueryMatchSemantics) {
  auto table = buildOrDie({httpRoute(
      "r", {parent("echo", 80)},
      {rule({withHeader(exact("/h"), "X-Version", "v[12]", ValueMatchType::kRegularExpression)},
            {backend("header-regex", 80)}),
       rule({withHeader(exact("/e"), "x-env", "Prod")}, {backend("header-exact", 80)}),
       rule({withQuery(exact("/q"), "id", "[0-9]+", ValueMatchType::kRegularExpression)},
            {backend("query-regex", 80)})})});
  auto svc = toService("echo", 80);
  struct C {
    HttpRequest req;
    std::string want;
  };
  const C cases[] = {
      {get("/h", "echo", {{"x-version", "v1"}}), "header-regex:80"},
      {get("/h", "echo", {{"X-VERSION", "v2"}}), "header-regex:80"},  // names case-insensitive
      {get("/h", "echo", {{"x-version", "v3"}}), "status 404"},
      {get("/h", "echo", {{"x-version", "v1x"}}), "status 404"},  // full match
      {get("/e", "echo", {{"x-env", "prod"}}), "status 404"},     // values case-sensitive
      {get("/e", "echo", {{"x-env", "Prod"}}), "header-exact:80"},
      // A repeated header is matched as its comma-joined value, as Envoy does.
      {get("/e", "echo", {{"x-env", "Prod"}, {"x-env", "Dev"}}), "status 404"},
      {get("/e"), "status 404"},
      {get("/q?id=42"), "query-regex:80"},
      {get("/q?id=4x"), "status 404"},
      {get("/q?other=1&id=7"), "query-regex:80"},
      {get("/q?id"), "status 404"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.req.pathAndQuery());
    ScriptedRandom random;
    EXPECT_EQ(outcome(table->route(svc, c.req, random)), c.want);
  }
}

// The spec's own table for ReplacePrefixMatch (HTTPPathModifier.ReplacePrefixMatch).
TEST(RouteFilters, ReplacePrefixMatchSpecTable) {
  struct C {
    std::string path, prefix, replacement, want;
  };
  const C cases[] = {
      {"/foo/bar", "/foo", "/xyz", "/xyz/bar"},
      {"/foo/bar", "/foo", "/xyz/", "/xyz/bar"},
      {"/foo/bar", "/foo/", "/xyz", "/xyz/bar"},
      {"/foo/bar", "/foo/", "/xyz/", "/xyz/bar"},
      {"/foo", "/foo", "/xyz", "/xyz"},
      {"/foo/", "/foo", "/xyz", "/xyz/"},
      {"/foo/bar", "/foo", "", "/bar"},
      {"/foo/", "/foo", "", "/"},
      {"/foo", "/foo", "", "/"},
      {"/foo/", "/foo", "/", "/"},
      {"/foo", "/foo", "/", "/"},
      // Beyond the table: the root prefix keeps the whole path.
      {"/a/b", "/", "/x", "/x/a/b"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(replacePrefixMatch(c.path, c.prefix, c.replacement), c.want)
        << c.path << " " << c.prefix << " " << c.replacement;
  }
}

TEST(RouteFilters, RedirectLocationPortRules) {
  struct C {
    std::string name;
    RequestRedirect r;
    uint16_t listener_port;
    std::string want;
  };
  auto make = [](std::optional<std::string> scheme, std::optional<uint16_t> port) {
    RequestRedirect r;
    r.scheme = std::move(scheme);
    r.port = port;
    return r;
  };
  const C cases[] = {
      {"no scheme, no port: the listener port", make(std::nullopt, std::nullopt), 8080,
       "http://echo:8080/p"},
      {"no scheme, listener 80: omitted", make(std::nullopt, std::nullopt), 80, "http://echo/p"},
      {"scheme https: its well-known port, omitted", make("https", std::nullopt), 8080,
       "https://echo/p"},
      {"scheme http from a non-80 listener: 80, omitted", make("http", std::nullopt), 8080,
       "http://echo/p"},
      {"explicit port 443 with https: omitted", make("https", 443), 80, "https://echo/p"},
      {"explicit port 80 with https: kept", make("https", 80), 80, "https://echo:80/p"},
      {"explicit port 443 with http: kept", make(std::nullopt, 443), 80, "http://echo:443/p"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(redirectLocation(c.r, "http", "echo", c.listener_port, "/p", "", ""), c.want)
        << c.name;
  }
  RequestRedirect v6;
  v6.hostname = "fd00::1";
  EXPECT_EQ(redirectLocation(v6, "http", "echo", 80, "/", "", ""), "http://[fd00::1]/");
}

TEST(RouteFilters, WeightedChoiceBoundaries) {
  const uint32_t w[] = {70, 30};
  EXPECT_EQ(weightTotal(w), 100u);
  EXPECT_EQ(pickWeighted(w, 0), 0u);
  EXPECT_EQ(pickWeighted(w, 69), 0u);
  EXPECT_EQ(pickWeighted(w, 70), 1u);
  EXPECT_EQ(pickWeighted(w, 99), 1u);
  const uint32_t zeros[] = {0, 5, 0};
  for (uint64_t p = 0; p < 5; ++p) EXPECT_EQ(pickWeighted(zeros, p), 1u);
  const uint32_t none[] = {0, 0};
  EXPECT_EQ(weightTotal(none), 0u);
  EXPECT_TRUE(mirrorSampled({100, 100}, 99));
  EXPECT_TRUE(mirrorSampled({1, 4}, 0));
  EXPECT_FALSE(mirrorSampled({1, 4}, 1));
  EXPECT_FALSE(mirrorSampled({0, 100}, 0));
}

TEST(RouteTable, BackendFailuresGive500) {
  auto invalid = backend("gone", 80, 1);
  invalid.invalid_reason = "BackendNotFound: service gone not found";
  auto table =
      buildOrDie({httpRoute("r", {parent("echo", 80)},
                            {rule({exact("/none")}, {}),
                             rule({exact("/zero")}, {backend("a", 80, 0), backend("b", 80, 0)}),
                             rule({exact("/half")}, {backend("good", 80, 1), invalid})})});
  auto svc = toService("echo", 80);
  ScriptedRandom r1;
  auto none = table->route(svc, get("/none"), r1);
  ASSERT_NE(none.direct(), nullptr);
  EXPECT_EQ(none.direct()->status, 500);
  EXPECT_EQ(none.direct()->reason, DirectResponse::Reason::kNoBackends);
  ScriptedRandom r2;
  auto zero = table->route(svc, get("/zero"), r2);
  ASSERT_NE(zero.direct(), nullptr);
  EXPECT_EQ(zero.direct()->reason, DirectResponse::Reason::kAllWeightsZero);
  EXPECT_EQ(r2.calls(), 0);
  // "if two backends are specified with equal weights, and one is invalid, 50 percent of
  // traffic must receive a 500".
  ScriptedRandom good({0}), bad({1});
  EXPECT_EQ(outcome(table->route(svc, get("/half"), good)), "good:80");
  auto failed = table->route(svc, get("/half"), bad);
  ASSERT_NE(failed.direct(), nullptr);
  EXPECT_EQ(failed.direct()->status, 500);
  EXPECT_EQ(failed.direct()->reason, DirectResponse::Reason::kInvalidBackend);
  EXPECT_NE(failed.direct()->detail.find("BackendNotFound"), std::string::npos);
  // gRPC requests get UNAVAILABLE for it.
  auto grpc = get("/half");
  grpc.headers.add("content-type", "application/grpc+proto");
  ScriptedRandom bad2({1});
  EXPECT_EQ(table->route(svc, grpc, bad2).direct()->grpc_status, 14);
}

TEST(RouteTable, MirrorsTimeoutsRetryAndUnsupportedFilters) {
  RequestMirror half;
  half.backend.namespace_ = kMeshNs;
  half.backend.name = "shadow";
  half.backend.port = 80;
  half.fraction = {50, 100};
  RequestMirror broken = half;
  broken.backend.name = "missing";
  broken.fraction = {100, 100};
  broken.invalid_reason = "BackendNotFound";
  auto r = rule({exact("/m")}, {backend("main", 80)}, {half, broken});
  r.timeouts.request = std::chrono::milliseconds(10000);
  r.timeouts.backend_request = std::chrono::milliseconds(2000);
  r.retry = RouteRetry{3, {500, 502, 503}, std::chrono::milliseconds(100)};
  auto ext = rule({exact("/x")}, {backend("main", 80)}, {ExtensionRefFilter{"ex.io", "Auth", "a"}});
  auto table = buildOrDie({httpRoute("r", {parent("echo", 80)}, {r, ext})});
  auto svc = toService("echo", 80);

  ScriptedRandom draws_mirror({49, 0});  // mirror draw 49 < 50: mirrored; then backend draw
  auto d = table->route(svc, get("/m"), draws_mirror);
  ASSERT_NE(d.forward(), nullptr);
  ASSERT_EQ(d.forward()->mirrors.size(), 1u);  // the unresolved mirror is dropped
  EXPECT_EQ(d.forward()->mirrors[0].toString(), kMeshNs + "/shadow:80");
  EXPECT_EQ(d.forward()->timeouts.request, std::chrono::milliseconds(10000));
  EXPECT_EQ(d.forward()->timeouts.backend_request, std::chrono::milliseconds(2000));
  ASSERT_TRUE(d.forward()->retry.has_value());
  EXPECT_EQ(d.forward()->retry->attempts, 3u);
  EXPECT_EQ(d.forward()->retry->codes, (std::vector<int>{500, 502, 503}));
  EXPECT_EQ(d.forward()->retry->backoff, std::chrono::milliseconds(100));

  ScriptedRandom no_mirror({50, 0});
  EXPECT_TRUE(table->route(svc, get("/m"), no_mirror).forward()->mirrors.empty());

  ScriptedRandom random;
  auto x = table->route(svc, get("/x"), random);
  ASSERT_NE(x.direct(), nullptr);
  EXPECT_EQ(x.direct()->status, 500);
  EXPECT_EQ(x.direct()->reason, DirectResponse::Reason::kUnsupportedFilter);
}

TEST(RouteTable, HostRewriteAndBackendLevelRewrite) {
  UrlRewrite host{"new.example", std::nullopt};
  UrlRewrite path{std::nullopt, PathModifier{PathModifierType::kReplacePrefixMatch, "/v2"}};
  auto table = buildOrDie({httpRoute(
      "r", {parent("echo", 80)}, {rule({prefix("/v1")}, {backend("a", 80, 1, {path})}, {host})})});
  ScriptedRandom random;
  auto d = table->route(toService("echo", 80), get("/v1/items?page=2", "echo:80"), random);
  ASSERT_NE(d.forward(), nullptr);
  EXPECT_EQ(d.forward()->request.authority, "new.example");
  EXPECT_EQ(d.forward()->request.pathAndQuery(), "/v2/items?page=2");
}

TEST(RouteTable, KindSelectionAndParents) {
  GrpcRoute g;
  g.meta = {kMeshNs, "g", 1000, {parent("echo", 80)}, {}};
  GrpcRouteRule gr;
  gr.backend_refs = {backend("grpc-backend", 80)};
  g.rules = {gr};
  auto h = httpRoute("h", {parent("echo", 80)}, {rule({}, {backend("http-backend", 80)})});
  auto only_http = httpRoute("h2", {parent("web", 80)}, {rule({}, {backend("web-http", 80)})});
  auto table = buildOrDie({h, only_http}, {g});
  ScriptedRandom random;
  EXPECT_EQ(outcome(table->route(toService("echo", 80), grpcCall("a.B", "C"), random)),
            "grpc-backend:80");
  EXPECT_EQ(outcome(table->route(toService("echo", 80), get("/"), random)), "http-backend:80");
  // A gRPC call to a Service with only HTTPRoutes is routed by them.
  EXPECT_EQ(outcome(table->route(toService("web", 80), grpcCall("a.B", "C"), random)),
            "web-http:80");
  // Another namespace's Service of the same name is not attached.
  EXPECT_EQ(outcome(table->route(toService("echo", 80, "other"), get("/"), random)), "echo:80");
}

TEST(RouteTable, GrpcMethodMatching) {
  auto grpc_rule = [](std::optional<std::string> service, std::optional<std::string> method,
                      ValueMatchType type, std::string to) {
    GrpcRouteRule r;
    GrpcRouteMatch m;
    m.method = GrpcMethodMatch{type, std::move(service), std::move(method)};
    r.matches = {m};
    r.backend_refs = {backend(std::move(to), 80)};
    return r;
  };
  GrpcRoute g;
  g.meta = {kMeshNs, "g", 1000, {parent("echo", 80)}, {}};
  g.rules = {grpc_rule("pkg.Svc", std::nullopt, ValueMatchType::kExact, "service-only"),
             grpc_rule("pkg.Svc", "Get", ValueMatchType::kExact, "service-and-method"),
             grpc_rule(std::nullopt, "List", ValueMatchType::kExact, "method-only"),
             grpc_rule("pkg\\..*", "Del.*", ValueMatchType::kRegularExpression, "regex")};
  auto table = buildOrDie({}, {g});
  auto svc = toService("echo", 80);
  struct C {
    std::string service, method, want;
  };
  const C cases[] = {
      {"pkg.Svc", "Get", "service-and-method:80"},  // more characters win
      {"pkg.Svc", "Put", "service-only:80"},       {"other.Svc", "List", "method-only:80"},
      {"pkg.Other", "DeleteAll", "regex:80"},      {"pkg.Other", "Get", "status 404"},
  };
  for (const auto& c : cases) {
    ScriptedRandom random;
    EXPECT_EQ(outcome(table->route(svc, grpcCall(c.service, c.method), random)), c.want)
        << c.service << "/" << c.method;
  }
}

TEST(RouteTable, BadRulesAreReportedAndDroppedAlone) {
  RequestRedirect redirect;
  redirect.hostname = "x";
  UrlRewrite rewrite{"y", std::nullopt};
  UrlRewrite prefix_rewrite{std::nullopt,
                            PathModifier{PathModifierType::kReplacePrefixMatch, "/x"}};
  RequestRedirect bad_status;
  bad_status.status_code = 399;
  auto routes = std::vector<HttpRoute>{
      httpRoute("bad", {parent("echo", 80)},
                {rule({regex("/(unclosed")}, {backend("a", 80)}),
                 rule({exact("/both")}, {}, {redirect, rewrite}),
                 rule({exact("/prefix-on-exact")}, {backend("a", 80)}, {prefix_rewrite}),
                 rule({exact("/redirect-and-backend")}, {backend("a", 80)}, {redirect}),
                 rule({exact("relative")}, {backend("a", 80)}),
                 rule({withMethod(exact("/m"), "FETCH")}, {backend("a", 80)}),
                 rule({exact("/status")}, {}, {bad_status}),
                 rule({exact("/good")}, {backend("good", 80)})}),
      httpRoute("orphan", {}, {rule({}, {backend("a", 80)})}),
  };
  auto built = RouteTable::build(routes, {});
  std::vector<std::string> got;
  for (const auto& d : built.diagnostics) got.push_back(d.toString());
  const std::vector<std::string> want = {
      "HTTPRoute gateway-conformance-mesh/bad: rules[0].matches[0].path.value: bad regex "
      "'/(unclosed': missing ): /(unclosed",
      "HTTPRoute gateway-conformance-mesh/bad: rules[1].filters: RequestRedirect and "
      "URLRewrite together",
      "HTTPRoute gateway-conformance-mesh/bad: rules[2].filters[0]: ReplacePrefixMatch "
      "needs exactly one PathPrefix match on the rule",
      "HTTPRoute gateway-conformance-mesh/bad: rules[3].filters: RequestRedirect with "
      "backendRefs",
      "HTTPRoute gateway-conformance-mesh/bad: rules[4].matches[0].path.value: "
      "'relative' must start with '/'",
      "HTTPRoute gateway-conformance-mesh/bad: rules[5].matches[0].method: unsupported "
      "value 'FETCH'",
      "HTTPRoute gateway-conformance-mesh/bad: rules[6].filters[0].requestRedirect."
      "statusCode: unsupported value 399",
      "HTTPRoute gateway-conformance-mesh/orphan: parentRefs: no Service parentRef: the route "
      "attaches to nothing",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(built.table->ruleCount(), 2u);  // /good and the orphan's rule
  ScriptedRandom random;
  EXPECT_EQ(outcome(built.table->route(toService("echo", 80), get("/good"), random)), "good:80");
  EXPECT_EQ(outcome(built.table->route(toService("echo", 80), get("/both"), random)), "status 404");
}

TEST(RouteTable, DecisionJson) {
  auto table = buildOrDie(
      {httpRoute("r", {parent("echo", 80)}, {rule({exact("/a")}, {backend("v1", 80)})})});
  ScriptedRandom random;
  auto j = table->route(toService("echo", 80), get("/a?x=1"), random).toJson();
  EXPECT_EQ(j["action"], "forward");
  EXPECT_EQ(j["backend"], kMeshNs + "/v1:80");
  EXPECT_EQ(j["path"], "/a?x=1");
  EXPECT_EQ(j["route"], "HTTPRoute " + kMeshNs + "/r rule 0");
  auto k = table->route(toService("echo", 80), get("/b"), random).toJson();
  EXPECT_EQ(k["action"], "direct_response");
  EXPECT_EQ(k["status"], 404);
  EXPECT_EQ(k["reason"], "no_route_matched");
}

}  // namespace
}  // namespace warren::waypoint
