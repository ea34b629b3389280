// bench-link: warren_ztunnel_core
// Outbound decision cost (buildRequest) in a mesh of 10,000 workloads and 1,000 services.
// Run: build/bin/routing_bench
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <string>

#include "mesh/routing/inbound_decision.h"
#include "ztunnel/routing/outbound_router.h"

namespace warren::ztunnel {
namespace {

constexpr int kWorkloads = 10000;
constexpr int kServices = 1000;

net::IpAddress podIp(int i) {
  return net::IpAddress::v4(
      {10, 244, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250 + 1)});
}
net::IpAddress vip(int i) {
  return net::IpAddress::v4(
      {10, 96, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250 + 1)});
}
std::string hostname(int s) { return "svc-" + std::to_string(s) + ".default.svc.cluster.local"; }

// Service s is backed by workloads s, s+1000, ..., i.e. 10 endpoints each; service 0 also
// gets 90 more (100 endpoints) to show the cost of a wide service.
std::shared_ptr<const mesh::StateSnapshot> mesh() {
  mesh::StateUpdate u;
  for (int w = 0; w < kWorkloads; ++w) {
    mesh::Workload wl;
    wl.uid = "pod-" + std::to_string(w);
    wl.name = wl.uid;
    wl.namespace_ = "default";
    wl.service_account = "sa-" + std::to_string(w % kServices);
    wl.addresses = {podIp(w)};
    wl.node = "node-" + std::to_string(w % 20);
    wl.tunnel_protocol = mesh::TunnelProtocol::kHbone;
    wl.services["default/" + hostname(w % kServices)] = {{80, 8080}};
    if (w < 100) wl.services["default/" + hostname(0)] = {{80, 8080}};
    u.workloads.push_back(std::move(wl));
  }
  for (int s = 0; s < kServices; ++s) {
    mesh::Service svc;
    svc.name = "svc-" + std::to_string(s);
    svc.namespace_ = "default";
    svc.hostname = hostname(s);
    svc.addresses = {mesh::NetworkAddress{"", vip(s)}};
    svc.ports = {{80, 8080, mesh::AppProtocol::kTcp}};
    u.services.push_back(std::move(svc));
  }
  return mesh::StateSnapshot::empty()->apply(u).snapshot;
}

void BM_RouteVip10Endpoints(benchmark::State& state) {
  auto snap = mesh();
  const mesh::Workload* src = snap->workloadByUid("pod-1");
  mesh::SeededRandom random(1);
  net::SocketAddress dst{vip(500), 80};
  for (auto _ : state) {
    auto d = buildRequest(*snap, *src, dst, random);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_RouteVip10Endpoints);

void BM_RouteVip100Endpoints(benchmark::State& state) {
  auto snap = mesh();
  const mesh::Workload* src = snap->workloadByUid("pod-1");
  mesh::SeededRandom random(1);
  net::SocketAddress dst{vip(0), 80};
  for (auto _ : state) {
    auto d = buildRequest(*snap, *src, dst, random);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_RouteVip100Endpoints);

void BM_RoutePodIp(benchmark::State& state) {
  auto snap = mesh();
  const mesh::Workload* src = snap->workloadByUid("pod-1");
  mesh::SeededRandom random(1);
  net::SocketAddress dst{podIp(7777), 8080};
  for (auto _ : state) {
    auto d = buildRequest(*snap, *src, dst, random);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_RoutePodIp);

void BM_RoutePassthrough(benchmark::State& state) {
  auto snap = mesh();
  const mesh::Workload* src = snap->workloadByUid("pod-1");
  mesh::SeededRandom random(1);
  net::SocketAddress dst{net::IpAddress::v4({93, 184, 216, 34}), 443};
  for (auto _ : state) {
    auto d = buildRequest(*snap, *src, dst, random);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_RoutePassthrough);

// The one inbound decision on a CONNECT as the client builds it: parse, authority, RBAC.
void BM_DecideInbound(benchmark::State& state) {
  auto snap = mesh();
  const mesh::Workload* local = snap->workloadByUid("pod-7777");
  hbone::ConnectRequest req;
  req.target = net::SocketAddress{podIp(7777), 8080};
  req.source = net::SocketAddress{podIp(1), 41234};
  req.traceparent = hbone::TraceParent::random();
  auto headers = hbone::buildConnectHeaders(req);
  mesh::InboundConnection conn{
      net::SocketAddress{podIp(7777), 15008}, req.source,
      identity::SpiffeId::make("cluster.local", "default", "client").value()};
  for (auto _ : state) {
    auto r = mesh::decideInbound(*snap, local, conn, headers);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_DecideInbound);

void BM_SnapshotBuild10kWorkloads(benchmark::State& state) {
  for (auto _ : state) {
    auto snap = mesh();
    benchmark::DoNotOptimize(snap);
  }
  // What a snapshot holds per workload once built (its resources and every index), from the
  // allocator's count of bytes in use with and without one (the 1,000 services included).
  size_t before = ::mallinfo2().uordblks;
  auto held = mesh();
  size_t after = ::mallinfo2().uordblks;
  state.counters["heap_bytes_per_workload"] =
      static_cast<double>(after - before) / static_cast<double>(kWorkloads);
}
BENCHMARK(BM_SnapshotBuild10kWorkloads)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace warren::ztunnel
