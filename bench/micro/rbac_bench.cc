// bench-link: warren_mesh_core
// L4 authorization cost per connection with 10,000 policies in the snapshot, and the cost of
// building a snapshot holding them. Run: build/bin/rbac_bench
#include <benchmark/benchmark.h>

#include <string>

#include "mesh/rbac/rbac_evaluator.h"

namespace warren::mesh {
namespace {

constexpr int kPolicies = 10000;
constexpr int kWorkloads = 1000;

net::IpAddress podIp(int i) {
  return net::IpAddress::v4(
      {10, 244, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250 + 1)});
}

Authorization principalPolicy(const std::string& ns, int i, AuthorizationScope scope,
                              AuthorizationAction action, const std::string& principal) {
  Authorization a;
  a.namespace_ = ns;
  a.name = "p-" + std::to_string(i);
  a.scope = scope;
  a.action = action;
  AuthorizationMatch m;
  m.principals = {StringMatch::exact(principal)};
  m.destination_ports = {static_cast<uint16_t>(8000 + i % 100)};
  a.groups = {AuthorizationGroup{{AuthorizationRule{{m}}}}};
  return a;
}

// 10,000 selector-scoped policies spread over 1,000 workloads (10 each, 5 DENY + 5 ALLOW):
// the per-workload index means a connection only looks at its destination's 10.
StateUpdate spreadPolicies() {
  StateUpdate u;
  for (int w = 0; w < kWorkloads; ++w) {
    Workload wl;
    wl.uid = "pod-" + std::to_string(w);
    wl.namespace_ = "ns-" + std::to_string(w % 50);
    wl.addresses = {podIp(w)};
    wl.tunnel_protocol = TunnelProtocol::kHbone;
    u.workloads.push_back(std::move(wl));
  }
  for (int i = 0; i < kPolicies; ++i) {
    int w = i % kWorkloads;
    auto& wl = u.workloads[w];
    auto action = (i / kWorkloads) % 2 ? AuthorizationAction::kAllow : AuthorizationAction::kDeny;
    auto p = principalPolicy(wl.namespace_, i, AuthorizationScope::kWorkloadSelector, action,
                             "cluster.local/ns/x/sa/sa-" + std::to_string(i));
    wl.authorization_policies.push_back(p.key());
    u.policies.push_back(std::move(p));
  }
  return u;
}

// Worst case: all 10,000 policies are NAMESPACE-scoped in the destination's namespace and
// none of the DENY ones match, so every one is evaluated; the last ALLOW matches.
StateUpdate oneNamespace() {
  StateUpdate u;
  Workload wl;
  wl.uid = "pod-0";
  wl.namespace_ = "busy";
  wl.addresses = {podIp(0)};
  u.workloads.push_back(wl);
  for (int i = 0; i < kPolicies - 1; ++i) {
    u.policies.push_back(principalPolicy("busy", i, AuthorizationScope::kNamespace,
                                         i % 2 ? AuthorizationAction::kAllow
                                               : AuthorizationAction::kDeny,
                                         "cluster.local/ns/x/sa/sa-" + std::to_string(i)));
  }
  Authorization last = principalPolicy("busy", kPolicies, AuthorizationScope::kNamespace,
                                       AuthorizationAction::kAllow,
                                       "cluster.local/ns/client/sa/client");
  last.groups[0].rules[0].matches[0].destination_ports = {8080};
  u.policies.push_back(last);
  return u;
}

ConnectionContext clientConn() {
  return ConnectionContext{*identity::SpiffeId::make("cluster.local", "client", "client"),
                           podIp(999), podIp(0), 8080};
}

void BM_RbacIndexed10kPolicies(benchmark::State& state) {
  auto snap = StateSnapshot::empty()->apply(spreadPolicies()).snapshot;
  const Workload* dst = snap->workloadByUid("pod-0");
  auto conn = clientConn();
  for (auto _ : state) {
    auto d = evaluateRbac(snap->policiesFor(*dst), conn);
    benchmark::DoNotOptimize(d);
  }
  state.counters["policies_in_snapshot"] = static_cast<double>(snap->policyCount());
}
BENCHMARK(BM_RbacIndexed10kPolicies);

void BM_RbacAll10kPoliciesApply(benchmark::State& state) {
  auto snap = StateSnapshot::empty()->apply(oneNamespace()).snapshot;
  const Workload* dst = snap->workloadByUid("pod-0");
  auto conn = clientConn();
  bool allowed = false;
  for (auto _ : state) {
    auto d = evaluateRbac(snap->policiesFor(*dst), conn);
    allowed = d.allowed;
    benchmark::DoNotOptimize(d);
  }
  if (!allowed) state.SkipWithError("expected the last ALLOW to match");
}
BENCHMARK(BM_RbacAll10kPoliciesApply);

void BM_RbacPlaintextStrict(benchmark::State& state) {
  StateUpdate u;
  Workload wl;
  wl.uid = "pod-0";
  wl.namespace_ = "default";
  wl.addresses = {podIp(0)};
  u.workloads.push_back(wl);
  Authorization strict;
  strict.namespace_ = "warren-system";
  strict.name = "strict";
  strict.scope = AuthorizationScope::kGlobal;
  strict.action = AuthorizationAction::kDeny;
  AuthorizationMatch m;
  m.not_principals = {StringMatch::presence()};
  strict.groups = {AuthorizationGroup{{AuthorizationRule{{m}}}}};
  u.policies.push_back(strict);
  auto snap = StateSnapshot::empty()->apply(u).snapshot;
  const Workload* dst = snap->workloadByUid("pod-0");
  ConnectionContext conn{std::nullopt, podIp(5), podIp(0), 8080};
  for (auto _ : state) {
    auto d = evaluateRbac(snap->policiesFor(*dst), conn);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_RbacPlaintextStrict);

// Control-plane side: building a snapshot with 1,000 workloads and 10,000 policies, and a
// one-policy delta on top of it (copy-on-write of the maps plus a full index rebuild).
void BM_SnapshotBuild10kPolicies(benchmark::State& state) {
  auto update = spreadPolicies();
  for (auto _ : state) {
    auto r = StateSnapshot::empty()->apply(update);
    benchmark::DoNotOptimize(r.snapshot);
  }
}
BENCHMARK(BM_SnapshotBuild10kPolicies)->Unit(benchmark::kMillisecond);

void BM_SnapshotDeltaOnePolicy(benchmark::State& state) {
  auto base = StateSnapshot::empty()->apply(spreadPolicies()).snapshot;
  StateUpdate delta;
  delta.policies.push_back(principalPolicy("ns-0", 0, AuthorizationScope::kWorkloadSelector,
                                           AuthorizationAction::kDeny, "cluster.local/ns/a/sa/b"));
  for (auto _ : state) {
    auto r = base->apply(delta);
    benchmark::DoNotOptimize(r.snapshot);
  }
}
BENCHMARK(BM_SnapshotDeltaOnePolicy)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace warren::mesh
