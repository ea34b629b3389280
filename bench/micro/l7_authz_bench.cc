// bench-link: warren_waypoint_core
// L7 authorization cost per request at the waypoint with 1,000 AuthorizationPolicies on paths,
// headers and principals, all waypoint-wide (the worst case: every policy applies to every
// request). The goal: <= 1 us per request. Also: the same set scanned without the
// index, and the path normalizer and router a request passes through first.
// Run: build/bench/l7_authz_bench
#include <benchmark/benchmark.h>

#include <string>

#include "waypoint/authz/l7_policy_set.h"
#include "waypoint/path/path_normalizer.h"
#include "waypoint/route/route_table.h"

namespace warren::waypoint {
namespace {

constexpr int kPolicies = 1000;

std::string principal(int i) {
  return "cluster.local/ns/team-" + std::to_string(i % 50) + "/sa/sa-" + std::to_string(i);
}

// 1,000 policies: 400 ALLOW (principal + path prefix + method), 300 DENY (path prefix + header),
// 200 ALLOW (exact path + header), 100 DENY (principal + notPaths).
std::vector<AuthzPolicy> policies() {
  std::vector<AuthzPolicy> out;
  for (int i = 0; i < kPolicies; ++i) {
    AuthzPolicy p;
    p.namespace_ = "default";
    p.name = "p-" + std::to_string(i);
    AuthzRule r;
    if (i < 400) {
      p.action = AuthzAction::kAllow;
      AuthzSource s;
      s.principals = {principal(i)};
      AuthzOperation o;
      o.paths = {"/svc-" + std::to_string(i) + "/*"};
      o.methods = {"GET", "POST"};
      r.from = {s};
      r.to = {o};
    } else if (i < 700) {
      p.action = AuthzAction::kDeny;
      AuthzOperation o;
      o.paths = {"/admin-" + std::to_string(i) + "/*"};
      r.to = {o};
      r.when = {{"request.headers[x-tenant]", {"tenant-" + std::to_string(i)}, {}}};
    } else if (i < 900) {
      p.action = AuthzAction::kAllow;
      AuthzOperation o;
      o.paths = {"/api/v1/items-" + std::to_string(i)};
      r.to = {o};
      r.when = {{"request.headers[x-api-key]", {"key-" + std::to_string(i)}, {}}};
    } else {
      p.action = AuthzAction::kDeny;
      AuthzSource s;
      s.principals = {principal(i)};
      AuthzOperation o;
      o.not_paths = {"/public/*"};
      r.from = {s};
      r.to = {o};
    }
    p.rules = {r};
    out.push_back(std::move(p));
  }
  return out;
}

struct Fixture {
  std::shared_ptr<const L7PolicySet> set = L7PolicySet::compile(policies()).set;
  ConnectionInfo conn = [] {
    ConnectionInfo c;
    c.source_identity = *identity::SpiffeId::fromPrincipal(principal(250));
    c.source_ip = *IpAddress::parse("10.244.1.10");
    c.remote_ip = c.source_ip;
    c.destination_ip = *IpAddress::parse("10.96.0.10");
    c.destination_port = 8080;
    return c;
  }();
  HttpRequest allowed = [] {
    HttpRequest r;
    r.method = "GET";
    r.authority = "web.default.svc.cluster.local:8080";
    r.path = "/svc-250/items/42";
    r.headers = {{"x-tenant", "tenant-7"},
                 {"user-agent", "curl/7.88"},
                 {"accept", "*/*"},
                 {"x-request-id", "4bf92f35"},
                 {"traceparent", "00-4bf92f3577b34da6-00f067aa0ba902b7-01"}};
    return r;
  }();
  HttpRequest denied = [] {  // matches no ALLOW: every candidate evaluated, then 403
    HttpRequest r;
    r.method = "GET";
    r.authority = "web";
    r.path = "/other/thing";
    r.headers = {{"x-tenant", "tenant-7"}};
    return r;
  }();
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void evaluateBench(benchmark::State& state, const HttpRequest& req, bool use_index,
                   bool want_allowed) {
  Fixture& f = fixture();
  AuthzContext ctx(f.conn, &req, nullptr);
  if (f.set->evaluate(nullptr, ctx, use_index).allowed != want_allowed) {
    state.SkipWithError("unexpected decision");
    return;
  }
  for (auto _ : state) {
    auto d = f.set->evaluate(nullptr, ctx, use_index);
    benchmark::DoNotOptimize(d);
  }
}

void BM_L7Authz1000Indexed_Allowed(benchmark::State& state) {
  evaluateBench(state, fixture().allowed, true, true);
}
void BM_L7Authz1000Indexed_NoAllowMatch(benchmark::State& state) {
  evaluateBench(state, fixture().denied, true, false);
}
void BM_L7Authz1000Scan_Allowed(benchmark::State& state) {
  evaluateBench(state, fixture().allowed, false, true);
}
void BM_L7Authz1000Scan_NoAllowMatch(benchmark::State& state) {
  evaluateBench(state, fixture().denied, false, false);
}
BENCHMARK(BM_L7Authz1000Indexed_Allowed);
BENCHMARK(BM_L7Authz1000Indexed_NoAllowMatch);
BENCHMARK(BM_L7Authz1000Scan_Allowed);
BENCHMARK(BM_L7Authz1000Scan_NoAllowMatch);

void BM_L7PolicyCompile1000(benchmark::State& state) {
  auto p = policies();
  for (auto _ : state) benchmark::DoNotOptimize(L7PolicySet::compile(p));
}
BENCHMARK(BM_L7PolicyCompile1000)->Unit(benchmark::kMillisecond);

void BM_PathNormalizeBase(benchmark::State& state) {
  const std::string target = "/api/v1/../v2/users/%41lice/./profile?expand=true";
  PathNormalizationOptions options;
  for (auto _ : state) benchmark::DoNotOptimize(normalizeRequestTarget(target, options));
}
BENCHMARK(BM_PathNormalizeBase);

class CountingRandom final : public RouteRandom {
 public:
  uint64_t below(uint64_t bound) override { return (n_++ * 7919) % bound; }

 private:
  uint64_t n_ = 0;
};

// 50 routes of 10 rules each attached to one Service: the request matches a late one.
void BM_Route500Rules(benchmark::State& state) {
  std::vector<HttpRoute> routes;
  for (int i = 0; i < 50; ++i) {
    HttpRoute r;
    r.meta = {
        "default", "r-" + std::to_string(i), 1000 + i, {{"default", "web", std::nullopt}}, {}};
    for (int j = 0; j < 10; ++j) {
      HttpRouteRule rule;
      HttpRouteMatch m;
      m.path = {PathMatchType::kPathPrefix, "/r" + std::to_string(i) + "/s" + std::to_string(j)};
      m.headers = {{ValueMatchType::kExact, "x-version", "v" + std::to_string(j % 3)}};
      rule.matches = {m};
      BackendRef b;
      b.ref = {"", "Service", "default", "web-v" + std::to_string(j % 3), 8080};
      rule.backend_refs = {b};
      r.rules.push_back(rule);
    }
    routes.push_back(std::move(r));
  }
  auto table = RouteTable::build(routes, {}).table;
  HttpRequest req;
  req.authority = "web";
  req.path = "/r45/s7/items";
  req.headers = {{"x-version", "v1"}};
  RouteDestination dest{ServiceKey{"default", "web"}, 8080};
  CountingRandom random;
  if (!table->route(dest, req, random).forward()) {
    state.SkipWithError("no route");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(table->route(dest, req, random));
}
BENCHMARK(BM_Route500Rules);

}  // namespace
}  // namespace warren::waypoint
