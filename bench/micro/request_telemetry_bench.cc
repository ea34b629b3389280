// The waypoint's per-request observability cost: begin() (request id, trace context parsed,
// continued, upstream headers rewritten) and finish() (Istio's four HTTP series looked up and
// bumped, the span built and queued; the access log off, it is spdlog's cost), and the
// traceparent parser alone.
// bench-link: warren_waypoint_telemetry
#include <benchmark/benchmark.h>

#include "waypoint/telemetry/request_telemetry.h"

namespace {

using namespace warren;
using namespace warren::waypoint;

class DiscardSink : public SpanSink {
 public:
  bool submit(SpanData span) override {
    benchmark::DoNotOptimize(span);
    return true;
  }
};

const std::string kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

RequestRecord record() {
  mesh::Workload sleep, echo;
  sleep.name = "sleep-5d8f-x1";
  sleep.workload_name = "sleep";
  sleep.namespace_ = "demo";
  echo.name = "echo-7d9f-y2";
  echo.workload_name = "echo";
  echo.namespace_ = "demo";
  RequestRecord r;
  r.method = "GET";
  r.authority = "echo:8080";
  r.path = "/hello";
  r.response_code = 200;
  r.duration = std::chrono::microseconds(900);
  r.response_body_bytes = 120;
  r.source = RequestPeer::of(
      &sleep, identity::SpiffeId::make("cluster.local", "demo", "sleep").value(), std::nullopt);
  r.destination = RequestPeer::of(
      &echo, identity::SpiffeId::make("cluster.local", "demo", "echo").value(), std::nullopt);
  r.service = {"echo.demo.svc.cluster.local", "echo", "demo"};
  r.service_port = 8080;
  return r;
}

std::unique_ptr<RequestTelemetry> telemetry(metrics::Registry& registry, SpanSink* sink) {
  RequestTelemetryOptions o;
  o.spans = sink;
  o.access_log = false;
  return std::move(*RequestTelemetry::create(registry, o));
}

void BM_Begin(benchmark::State& state) {
  metrics::Registry registry;
  DiscardSink sink;
  auto t = telemetry(registry, &sink);
  mesh::SeededRandom random(1);
  for (auto _ : state) {
    RequestRecord r;
    HeaderMap h{{"traceparent", kTraceparent}, {"user-agent", "curl"}, {"accept", "*/*"}};
    t->begin(r, h, random);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_Begin);

void BM_Finish(benchmark::State& state) {
  metrics::Registry registry;
  DiscardSink sink;
  auto t = telemetry(registry, &sink);
  mesh::SeededRandom random(1);
  RequestRecord r = record();
  HeaderMap h{{"traceparent", kTraceparent}};
  t->begin(r, h, random);
  for (auto _ : state) t->finish(r);
}
BENCHMARK(BM_Finish);

void BM_ParseTraceparent(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parseTraceparent(kTraceparent));
}
BENCHMARK(BM_ParseTraceparent);

}  // namespace
