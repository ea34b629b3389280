// Cost of a counter increment on the hot path: Warren's sharded Counter against one shared
// std::atomic (what a naive registry does), single-threaded and with every thread hammering the
// same series (the ztunnel case: all workers adding bytes to one popular label set). Also the
// per-connection label lookup and a full scrape of 1,000 Istio series.
// bench-link: warren_metrics
#include <benchmark/benchmark.h>

#include <atomic>

#include "common/metrics/istio_tcp_metrics.h"

namespace {

using warren::metrics::Counter;

Counter g_sharded;
std::atomic<uint64_t> g_shared{0};

void BM_ShardedCounterInc(benchmark::State& state) {
  for (auto _ : state) g_sharded.inc(1500);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ShardedCounterInc)->ThreadRange(1, 8)->UseRealTime();

void BM_SharedAtomicInc(benchmark::State& state) {
  for (auto _ : state) g_shared.fetch_add(1500, std::memory_order_relaxed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SharedAtomicInc)->ThreadRange(1, 8)->UseRealTime();

warren::metrics::TrafficLabels labelsFor(int i) {
  warren::metrics::TrafficLabels l;
  l.reporter = "source";
  l.source.workload = "client-" + std::to_string(i % 50);
  l.source.workload_namespace = "default";
  l.destination.workload = "server-" + std::to_string(i / 50);
  l.destination.workload_namespace = "default";
  l.connection_security_policy = "mutual_tls";
  return l;
}

// Once per connection: build the label values and find the four series.
void BM_ForConnectionLookup(benchmark::State& state) {
  warren::metrics::Registry r;
  auto m = *warren::metrics::IstioTcpMetrics::create(r);
  auto l = labelsFor(7);
  for (auto _ : state) benchmark::DoNotOptimize(m.forConnection(l));
}
BENCHMARK(BM_ForConnectionLookup);

void BM_ScrapeIstioSeries(benchmark::State& state) {
  warren::metrics::Registry r;
  auto m = *warren::metrics::IstioTcpMetrics::create(r);
  for (int i = 0; i < state.range(0); ++i) m.forConnection(labelsFor(i)).opened->inc();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = r.render();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ScrapeIstioSeries)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
