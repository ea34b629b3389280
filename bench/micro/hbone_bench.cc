// bench-link: warren_hbone warren_http2
//
// Cost of the HBONE request on each new tunnel: building the header block (client) and
// parsing it (server).
#include <benchmark/benchmark.h>

#include "common/hbone/connect_request.h"

namespace {

using namespace warren::hbone;
namespace net = warren::net;

ConnectRequest sampleRequest() {
  return ConnectRequest{
      net::SocketAddress::parse("10.244.2.7:8080").value(),
      net::SocketAddress::parse("10.244.1.5:41234").value(),
      "reviews.default.svc.cluster.local",
      {"cluster.local", "default", "deployment", "productpage-v1", "productpage", "v1", "", ""},
      TraceParent::random(),
      std::nullopt};
}

void BM_BuildConnectHeaders(benchmark::State& state) {
  ConnectRequest r = sampleRequest();
  for (auto _ : state) {
    r.traceparent = TraceParent::random();  // fresh per connection, as on the real path
    auto h = buildConnectHeaders(r);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_BuildConnectHeaders);

// The server's first step; the whole decision is BM_DecideInbound (routing_bench.cc).
void BM_ParseConnect(benchmark::State& state) {
  auto headers = buildConnectHeaders(sampleRequest());
  for (auto _ : state) {
    auto d = parseConnect(headers);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_ParseConnect);

void BM_ParseAuthorityV6(benchmark::State& state) {
  for (auto _ : state) {
    auto a = parseAuthority("[fd00:10:244::7]:8080");
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_ParseAuthorityV6);

}  // namespace
