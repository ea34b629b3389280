// L7 AuthorizationPolicy decisions at the waypoint: one row per Istio rule (the shape of
// tests/ztunnel/rbac_evaluator_test.cc). Every row runs twice, through the index and through a
// plain scan of every rule, and both must give the same decision.
#include <gtest/gtest.h>

#include <random>

#include "authz_builders.h"
#include "waypoint/authz/l7_policy_set.h"

namespace warren::waypoint {
namespace {

using namespace testing;
using A = AuthzAction;

struct Want {
  bool allowed;
  std::string reason;
  std::string policy;  // "" = none
};

struct Case {
  std::string name;
  std::vector<AuthzPolicy> policies;
  ConnectionInfo conn;
  std::optional<HttpRequest> http;  // nullopt: plain TCP
  std::optional<JwtClaims> token;
  Want want;
  std::optional<Want> dry_run = std::nullopt;
  std::vector<std::string> audited = {};
  std::optional<ServiceKey> service = ServiceKey{"default", "web"};
};

const ConnectionInfo kClient = mtls("default", "client");
const ConnectionInfo kProd = mtls("prod", "api", "10.244.2.10");
const ConnectionInfo kPlain = plaintext();
const HttpRequest kGet = request("GET", "/");

HttpRequest get(std::string path, std::string host = "web",
                std::vector<std::pair<std::string, std::string>> headers = {}) {
  return request("GET", std::move(path), std::move(host), std::move(headers));
}

void check(const Case& c, bool use_index) {
  SCOPED_TRACE(c.name + (use_index ? " (index)" : " (scan)"));
  auto compiled = L7PolicySet::compile(c.policies);
  AuthzContext ctx(c.conn, c.http ? &*c.http : nullptr, c.token ? &*c.token : nullptr);
  auto d = compiled.set->evaluate(c.service ? &*c.service : nullptr, ctx, use_index);
  EXPECT_EQ(d.allowed, c.want.allowed);
  EXPECT_EQ(toString(d.reason), c.want.reason);
  EXPECT_EQ(d.policy, c.want.policy);
  ASSERT_EQ(d.dry_run.has_value(), c.dry_run.has_value());
  if (c.dry_run) {
    EXPECT_EQ(d.dry_run->allowed, c.dry_run->allowed);
    EXPECT_EQ(toString(d.dry_run->reason), c.dry_run->reason);
    EXPECT_EQ(d.dry_run->policy, c.dry_run->policy);
  }
  std::vector<std::string> audited(d.audited.begin(), d.audited.end());
  EXPECT_EQ(audited, c.audited);
}

const Want kAllowed{true, "no_allow_policies", ""};
Want allowedBy(std::string p) { return {true, "allow_matched", "default/" + p}; }
Want deniedBy(std::string p) { return {false, "deny_matched", "default/" + p}; }
const Want kNoAllow{false, "no_allow_matched", ""};

TEST(L7Authz, DecisionTable) {
  const JwtClaims alice = jwt("https://issuer.example", "alice",
                              {{"aud", {"web", "api"}},
                               {"azp", "frontend"},
                               {"groups", {"dev", "admin"}},
                               {"nested", {{"role", "owner"}, {"level", 3}}}});
  const Case cases[] = {
      {"no policies: allowed", {}, kClient, kGet, {}, kAllowed},
      // --- to.operation.paths
      {"ALLOW exact path",
       {policy("p", A::kAllow, {to(paths({"/api"}))})},
       kClient,
       get("/api"),
       {},
       allowedBy("p")},
      {"ALLOW exact path: other path denied",
       {policy("p", A::kAllow, {to(paths({"/api"}))})},
       kClient,
       get("/api/"),
       {},
       kNoAllow},
      {"prefix path",
       {policy("p", A::kAllow, {to(paths({"/api/*"}))})},
       kClient,
       get("/api/v1/users"),
       {},
       allowedBy("p")},
      {"prefix is a string prefix, not a segment prefix",
       {policy("p", A::kAllow, {to(paths({"/api*"}))})},
       kClient,
       get("/apix"),
       {},
       allowedBy("p")},
      {"suffix path",
       {policy("p", A::kAllow, {to(paths({"*.js"}))})},
       kClient,
       get("/static/app.js"),
       {},
       allowedBy("p")},
      {"'*' path matches any path",
       {policy("p", A::kAllow, {to(paths({"*"}))})},
       kClient,
       get("/x"),
       {},
       allowedBy("p")},
      {"template {*}: one segment",
       {policy("p", A::kAllow, {to(paths({"/users/{*}/profile"}))})},
       kClient,
       get("/users/42/profile"),
       {},
       allowedBy("p")},
      {"template {*}: never two segments",
       {policy("p", A::kAllow, {to(paths({"/users/{*}/profile"}))})},
       kClient,
       get("/users/4/2/profile"),
       {},
       kNoAllow},
      {"template {*}: never an empty segment",
       {policy("p", A::kAllow, {to(paths({"/users/{*}/profile"}))})},
       kClient,
       get("/users//profile"),
       {},
       kNoAllow},
      {"template {**}: any run of segments",
       {policy("p", A::kAllow, {to(paths({"/files/{**}"}))})},
       kClient,
       get("/files/a/b/c.txt"),
       {},
       allowedBy("p")},
      {"template {**}: '/files' itself does not match",
       {policy("p", A::kAllow, {to(paths({"/files/{**}"}))})},
       kClient,
       get("/files"),
       {},
       kNoAllow},
      {"template {**} in the middle",
       {policy("p", A::kAllow, {to(paths({"/a/{**}/z"}))})},
       kClient,
       get("/a/b/c/z"),
       {},
       allowedBy("p")},
      {"DENY notPaths: outside denied",
       {policy("d", A::kDeny, {to(paths({}, {"/public/*"}))})},
       kClient,
       get("/private"),
       {},
       deniedBy("d")},
      {"DENY notPaths: inside allowed",
       {policy("d", A::kDeny, {to(paths({}, {"/public/*"}))})},
       kClient,
       get("/public/index.html"),
       {},
       kAllowed},
      // --- methods, hosts, ports
      {"ALLOW methods: other method denied",
       {policy("p", A::kAllow, {to(methods({"GET"}))})},
       kClient,
       request("POST", "/"),
       {},
       kNoAllow},
      {"DENY notMethods",
       {policy("d", A::kDeny, {to(methods({}, {"GET", "HEAD"}))})},
       kClient,
       request("DELETE", "/"),
       {},
       deniedBy("d")},
      {"hosts are case-insensitive",
       {policy("p", A::kAllow, {to(hosts({"Web.Default.SVC"}))})},
       kClient,
       get("/", "web.default.svc"),
       {},
       allowedBy("p")},
      {"hosts: the port is not stripped",
       {policy("p", A::kAllow, {to(hosts({"web"}))})},
       kClient,
       get("/", "web:8080"),
       {},
       kNoAllow},
      {"hosts: prefix with port",
       {policy("p", A::kAllow, {to(hosts({"web:*"}))})},
       kClient,
       get("/", "web:8080"),
       {},
       allowedBy("p")},
      {"DENY host cannot be escaped by case",
       {policy("d", A::kDeny, {to(hosts({"admin.example.com"}))})},
       kClient,
       get("/", "ADMIN.Example.com"),
       {},
       deniedBy("d")},
      {"ALLOW ports",
       {policy("p", A::kAllow, {to(ports({"8080"}))})},
       kClient,
       kGet,
       {},
       allowedBy("p")},
      {"ALLOW ports: other port",
       {policy("p", A::kAllow, {to(ports({"9090"}))})},
       kClient,
       kGet,
       {},
       kNoAllow},
      {"DENY notPorts",
       {policy("d", A::kDeny, {to(ports({}, {"9090"}))})},
       kClient,
       kGet,
       {},
       deniedBy("d")},
      // --- from.source
      {"principals exact",
       {policy("p", A::kAllow, {from(principals({"cluster.local/ns/default/sa/client"}))})},
       kClient,
       kGet,
       {},
       allowedBy("p")},
      {"principals suffix",
       {policy("p", A::kAllow, {from(principals({"*/sa/client"}))})},
       kClient,
       kGet,
       {},
       allowedBy("p")},
      {"principals prefix",
       {policy("p", A::kAllow, {from(principals({"cluster.local/ns/prod/*"}))})},
       kProd,
       kGet,
       {},
       allowedBy("p")},
      {"principals '*' needs mTLS",
       {policy("p", A::kAllow, {from(principals({"*"}))})},
       kPlain,
       kGet,
       {},
       kNoAllow},
      {"DENY notPrincipals '*' denies plaintext",
       {policy("d", A::kDeny, {from(principals({}, {"*"}))})},
       kPlain,
       kGet,
       {},
       deniedBy("d")},
      {"DENY notPrincipals '*' lets mTLS through",
       {policy("d", A::kDeny, {from(principals({}, {"*"}))})},
       kClient,
       kGet,
       {},
       kAllowed},
      {"namespaces",
       {policy("p", A::kAllow, {from(namespaces({"prod"}))})},
       kProd,
       kGet,
       {},
       allowedBy("p")},
      {"namespaces wildcard",
       {policy("p", A::kAllow, {from(namespaces({"pr*"}))})},
       kProd,
       kGet,
       {},
       allowedBy("p")},
      {"DENY notNamespaces",
       {policy("d", A::kDeny, {from(namespaces({}, {"default"}))})},
       kProd,
       kGet,
       {},
       deniedBy("d")},
      {"ipBlocks CIDR",
       {policy("p", A::kAllow, {from(ipBlocks({"10.244.2.0/24"}))})},
       kProd,
       kGet,
       {},
       allowedBy("p")},
      {"DENY notIpBlocks",
       {policy("d", A::kDeny, {from(ipBlocks({}, {"10.0.0.0/8"}))})},
       kPlain,
       kGet,
       {},
       deniedBy("d")},
      {"remoteIpBlocks read the original client",
       {policy("p", A::kAllow, {from(remoteIpBlocks({"203.0.113.0/24"}))})},
       [] {
         auto c = mtls("default", "client");
         c.remote_ip = ip("203.0.113.9");
         return c;
       }(),
       kGet,
       {},
       allowedBy("p")},
      {"requestPrincipals exact",
       {policy("p", A::kAllow, {from(requestPrincipals({"https://issuer.example/alice"}))})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      {"requestPrincipals: no token",
       {policy("p", A::kAllow, {from(requestPrincipals({"*"}))})},
       kClient,
       kGet,
       {},
       kNoAllow},
      {"requestPrincipals issuer/* (any subject)",
       {policy("p", A::kAllow, {from(requestPrincipals({"https://issuer.example/*"}))})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      {"requestPrincipals */sub (any issuer)",
       {policy("p", A::kAllow, {from(requestPrincipals({"*/alice"}))})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      {"requestPrincipals: another subject",
       {policy("p", A::kAllow, {from(requestPrincipals({"https://issuer.example/bob"}))})},
       kClient,
       kGet,
       alice,
       kNoAllow},
      {"DENY notRequestPrincipals '*' requires a token",
       {policy("d", A::kDeny, {from(requestPrincipals({}, {"*"}))})},
       kClient,
       kGet,
       {},
       deniedBy("d")},
      // --- when
      {"when request.headers exact",
       {policy("p", A::kAllow, {when("request.headers[X-User]", {"ann"})})},
       kClient,
       get("/", "web", {{"x-user", "ann"}}),
       {},
       allowedBy("p")},
      {"when request.headers: absent header",
       {policy("p", A::kAllow, {when("request.headers[x-user]", {"ann"})})},
       kClient,
       kGet,
       {},
       kNoAllow},
      {"when request.headers '*': present even empty",
       {policy("p", A::kAllow, {when("request.headers[x-flag]", {"*"})})},
       kClient,
       get("/", "web", {{"x-flag", ""}}),
       {},
       allowedBy("p")},
      {"a '*' inside a value is literal",
       {policy("d", A::kDeny, {when("request.headers[x-role]", {"*admin*"})})},
       kClient,
       get("/", "web", {{"x-role", "user"}, {"x-role", "admin"}}),
       {},
       kAllowed},
      {"when request.headers prefix over the joined value",
       {policy("d", A::kDeny, {when("request.headers[x-role]", {"user,*"})})},
       kClient,
       get("/", "web", {{"x-role", "user"}, {"x-role", "admin"}}),
       {},
       deniedBy("d")},
      {"when source.principal",
       {policy("p", A::kAllow, {when("source.principal", {"*/sa/api"})})},
       kProd,
       kGet,
       {},
       allowedBy("p")},
      {"when source.namespace notValues",
       {policy("d", A::kDeny, {when("source.namespace", {}, {"default"})})},
       kProd,
       kGet,
       {},
       deniedBy("d")},
      {"when source.ip",
       {policy("p", A::kAllow, {when("source.ip", {"10.244.1.10"})})},
       kClient,
       kGet,
       {},
       allowedBy("p")},
      {"when remote.ip",
       {policy("p", A::kAllow, {when("remote.ip", {"10.244.1.0/24"})})},
       kClient,
       kGet,
       {},
       allowedBy("p")},
      {"when destination.port",
       {policy("d", A::kDeny, {when("destination.port", {"8080"})})},
       kClient,
       kGet,
       {},
       deniedBy("d")},
      {"when destination.ip",
       {policy("p", A::kAllow, {when("destination.ip", {"10.96.0.0/16"})})},
       kClient,
       kGet,
       {},
       allowedBy("p")},
      {"when connection.sni",
       {policy("p", A::kAllow, {when("connection.sni", {"*.example.com"})})},
       [] {
         auto c = mtls("default", "client");
         c.sni = "api.example.com";
         return c;
       }(),
       kGet,
       {},
       allowedBy("p")},
      {"when request.auth.claims list claim",
       {policy("p", A::kAllow, {when("request.auth.claims[groups]", {"admin"})})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      {"when request.auth.claims nested",
       {policy("p", A::kAllow, {when("request.auth.claims[nested][role]", {"owner"})})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      {"when request.auth.claims: a number never matches",
       {policy("p", A::kAllow, {when("request.auth.claims[nested][level]", {"3"})})},
       kClient,
       kGet,
       alice,
       kNoAllow},
      {"when request.auth.audiences",
       {policy("p", A::kAllow, {when("request.auth.audiences", {"api"})})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      {"when request.auth.presenter",
       {policy("p", A::kAllow, {when("request.auth.presenter", {"front*"})})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      {"when request.auth.principal",
       {policy("p", A::kAllow, {when("request.auth.principal", {"https://issuer.example/alice"})})},
       kClient,
       kGet,
       alice,
       allowedBy("p")},
      // --- combination
      {"a rule needs from AND to",
       {policy("p", A::kAllow,
               {AuthzRule{{principals({"*/sa/client"})}, {paths({"/admin"})}, {}}})},
       kClient,
       get("/x"),
       {},
       kNoAllow},
      {"from entries are OR-ed",
       {policy("p", A::kAllow,
               {AuthzRule{{principals({"nobody"}), namespaces({"default"})}, {}, {}}})},
       kClient,
       kGet,
       {},
       allowedBy("p")},
      {"rules are OR-ed",
       {policy("p", A::kAllow, {to(paths({"/a"})), to(paths({"/b"}))})},
       kClient,
       get("/b"),
       {},
       allowedBy("p")},
      {"DENY wins over ALLOW",
       {policy("a", A::kAllow, {to(paths({"*"}))}),
        policy("d", A::kDeny, {to(paths({"/admin/*"}))})},
       kClient,
       get("/admin/x"),
       {},
       deniedBy("d")},
      {"ALLOW without rules allows nothing",
       {policy("none", A::kAllow, {})},
       kClient,
       kGet,
       {},
       kNoAllow},
      {"DENY without rules denies nothing",
       {policy("none", A::kDeny, {})},
       kClient,
       kGet,
       {},
       kAllowed},
      {"ALLOW rules [{}] allows everything",
       {policy("all", A::kAllow, {AuthzRule{}})},
       kPlain,
       kGet,
       {},
       allowedBy("all")},
      // --- CUSTOM, AUDIT, dry-run
      {"CUSTOM is unsupported: matching requests are denied",
       {policy("ext", A::kCustom, {to(paths({"/secure/*"}))})},
       kClient,
       get("/secure/x"),
       {},
       {false, "custom_unsupported", "default/ext"}},
      {"CUSTOM that does not match leaves the decision to the others",
       {policy("ext", A::kCustom, {to(paths({"/secure/*"}))})},
       kClient,
       get("/open"),
       {},
       kAllowed},
      {"AUDIT is reported, never denies",
       {policy("audit", A::kAudit, {to(paths({"/admin/*"}))}),
        policy("audit2", A::kAudit, {to(paths({"*"}))})},
       kClient,
       get("/admin/x"),
       {},
       kAllowed,
       std::nullopt,
       {"default/audit", "default/audit2"}},
      {"dry-run DENY: reported, not enforced",
       {dryRun(policy("dry", A::kDeny, {to(paths({"/admin/*"}))}))},
       kClient,
       get("/admin/x"),
       {},
       kAllowed,
       Want{false, "deny_matched", "default/dry"}},
      {"dry-run ALLOW rescuing an enforced denial",
       {policy("a", A::kAllow, {to(paths({"/a"}))}),
        dryRun(policy("dry", A::kAllow, {to(paths({"/b"}))}))},
       kClient,
       get("/b"),
       {},
       kNoAllow,
       Want{true, "allow_matched", "default/dry"}},
      {"dry-run ALLOW that would deny",
       {dryRun(policy("dry", A::kAllow, {to(paths({"/a"}))}))},
       kClient,
       get("/b"),
       {},
       kAllowed,
       Want{false, "no_allow_matched", ""}},
      // --- plain TCP through the waypoint
      {"TCP: a DENY on paths denies everything (fail closed)",
       {policy("d", A::kDeny, {to(paths({"/admin/*"}))})},
       kClient,
       std::nullopt,
       {},
       deniedBy("d")},
      {"TCP: an ALLOW rule with any path is skipped whole (istiod: rule error)",
       {policy("p", A::kAllow, {AuthzRule{{}, {paths({"/x"}), ports({"8080"})}, {}}})},
       kClient,
       std::nullopt,
       {},
       kNoAllow},
      {"TCP: an ALLOW rule that needs HTTP is skipped",
       {policy("p", A::kAllow, {AuthzRule{{}, {methods({"GET"})}, {}}})},
       kClient,
       std::nullopt,
       {},
       kNoAllow},
      {"TCP: L4 fields still apply",
       {policy("p", A::kAllow, {from(principals({"*/sa/client"}))})},
       kClient,
       std::nullopt,
       {},
       allowedBy("p")},
      // --- targets
      {"a Service's policy applies to its traffic",
       {forService(policy("svc", A::kDeny, {AuthzRule{}}), "web")},
       kClient,
       kGet,
       {},
       deniedBy("svc")},
      {"a Service's policy does not apply to another Service",
       {forService(policy("svc", A::kDeny, {AuthzRule{}}), "other")},
       kClient,
       kGet,
       {},
       kAllowed},
      {"a waypoint-wide policy applies with a Service's own",
       {policy("wide", A::kAllow, {to(paths({"/w"}))}),
        forService(policy("svc", A::kAllow, {to(paths({"/s"}))}), "web")},
       kClient,
       get("/w"),
       {},
       allowedBy("wide")},
      {"a workload address gets the waypoint-wide policies only",
       {forService(policy("svc", A::kDeny, {AuthzRule{}}), "web")},
       kClient,
       kGet,
       {},
       kAllowed,
       std::nullopt,
       {},
       std::nullopt},
      // --- values that do not parse
      {"ALLOW with a bad value: the rule never matches",
       {policy("p", A::kAllow, {AuthzRule{{ipBlocks({"10.0.0.0/99"})}, {}, {}}})},
       kClient,
       kGet,
       {},
       kNoAllow},
      {"DENY with a bad value: the value is dropped and the DENY widens",
       {policy("d", A::kDeny, {AuthzRule{{ipBlocks({"not-an-ip"})}, {paths({"/admin"})}, {}}})},
       kClient,
       get("/admin"),
       {},
       deniedBy("d")},
      {"DENY with an unknown when key: the condition is dropped",
       {policy("d", A::kDeny,
               {AuthzRule{{}, {paths({"/admin"})}, {{"request.bogus", {"x"}, {}}}}})},
       kClient,
       get("/admin"),
       {},
       deniedBy("d")},
  };
  for (const auto& c : cases) {
    check(c, true);
    check(c, false);
  }
  EXPECT_GE(std::size(cases), 80u);
}

TEST(L7Authz, DiagnosticsNameTheField) {
  auto result =
      L7PolicySet::compile({policy("bad", A::kAllow,
                                   {AuthzRule{{ipBlocks({"10.0.0.0/99"})},
                                              {ports({"http"}), paths({"/a/{**}/{*}", "/b/{x}"})},
                                              {{"destination.labels[app]", {"web"}, {}}}}}),
                            [] {
                              auto p = policy("ext", A::kCustom, {AuthzRule{}});
                              p.provider = "opa";
                              return p;
                            }()});
  std::vector<std::string> got;
  for (const auto& d : result.diagnostics) got.push_back(d.toString());
  const std::vector<std::string> want = {
      "AuthorizationPolicy default/bad: rules[0].from[0].source.ipBlocks.values[0]: bad IP block "
      "'10.0.0.0/99': prefix length must be 0..32 (the rule never matches)",
      "AuthorizationPolicy default/bad: rules[0].to[0].operation.ports.values[0]: bad port 'http' "
      "(the rule never matches)",
      "AuthorizationPolicy default/bad: rules[0].to[1].operation.paths.values[0]: invalid path "
      "template '/a/{**}/{*}': {**} must be the last operator (the rule never matches)",
      "AuthorizationPolicy default/bad: rules[0].to[1].operation.paths.values[1]: invalid path "
      "template '/b/{x}': '{x}' has '{' or '}' beyond {*} and {**} (the rule never matches)",
      "AuthorizationPolicy default/bad: rules[0].when[0].key: attribute destination.labels[app] is "
      "replaced by the workload selector (the rule never matches)",
      "AuthorizationPolicy default/ext: action: CUSTOM (provider 'opa') is not supported: the "
      "requests its rules match are denied",
  };
  EXPECT_EQ(got, want);
}

TEST(L7Authz, DecisionJsonAndDeniedResponse) {
  auto set = L7PolicySet::compile({policy("d", A::kDeny, {to(paths({"/x"}))}),
                                   dryRun(policy("dry", A::kDeny, {AuthzRule{}})),
                                   policy("log", A::kAudit, {AuthzRule{}})})
                 .set;
  HttpRequest r = get("/x");
  AuthzContext ctx(kClient, &r, nullptr);
  ServiceKey web{"default", "web"};
  auto d = set->evaluate(&web, ctx);
  EXPECT_EQ(AuthzDecision::kDeniedStatus, 403);
  EXPECT_EQ(AuthzDecision::kDeniedBody, "RBAC: access denied");
  auto j = d.toJson();
  EXPECT_EQ(j["allowed"], false);
  EXPECT_EQ(j["reason"], "deny_matched");
  EXPECT_EQ(j["policy"], "default/d");
  EXPECT_EQ(j["dryRun"]["policy"], "default/d");
  EXPECT_EQ(j["audited"][0], "default/log");
}

// The index must never change a decision: random policies over a small vocabulary, random
// requests, indexed and scanned evaluation compared.
TEST(L7Authz, IndexAgreesWithScan) {
  std::mt19937 rng(7);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> path_values = {"/a",      "/a/*",   "/a*", "*/c",    "/b/{*}",
                                                "/b/{**}", "/a/b/c", "*",   "/{*}/c", "/c/*"};
  const std::vector<std::string> request_paths = {"/a",     "/a/b", "/a/b/c", "/ab", "/b/x",
                                                  "/b/x/y", "/c/c", "/",      "/b/"};
  const std::vector<std::string> principal_values = {
      "cluster.local/ns/default/sa/client", "cluster.local/ns/prod/sa/api", "*/sa/api", "*"};
  const std::vector<std::string> header_values = {"1", "2", "*", "1*"};
  const ConnectionInfo conns[] = {kClient, kProd, kPlain};
  for (int round = 0; round < 200; ++round) {
    std::vector<AuthzPolicy> policies;
    int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      AuthzRule r;
      if (rng() % 2) r.to.push_back(paths({pick(path_values), pick(path_values)}));
      if (rng() % 3 == 0) r.to.push_back(paths({pick(path_values)}));
      if (rng() % 2) r.from.push_back(principals({pick(principal_values)}));
      if (rng() % 3 == 0) r.when.push_back({"request.headers[x-h]", {pick(header_values)}, {}});
      static constexpr A kActions[] = {A::kAllow, A::kDeny, A::kAudit, A::kCustom};
      auto p = policy("p" + std::to_string(i), kActions[rng() % 4], {r});
      if (rng() % 5 == 0) p.dry_run = true;
      policies.push_back(std::move(p));
    }
    auto set = L7PolicySet::compile(policies).set;
    for (int q = 0; q < 20; ++q) {
      std::vector<std::pair<std::string, std::string>> headers;
      if (rng() % 2) headers.emplace_back("x-h", pick({"1", "2", "3", "12"}));
      HttpRequest req = get(pick(request_paths), "web", headers);
      const ConnectionInfo& conn = conns[rng() % 3];
      AuthzContext ctx(conn, &req, nullptr);
      auto a = set->evaluate(nullptr, ctx, true).toJson();
      auto b = set->evaluate(nullptr, ctx, false).toJson();
      ASSERT_EQ(a, b) << "round " << round << " path " << req.path;
    }
  }
}

}  // namespace
}  // namespace warren::waypoint
