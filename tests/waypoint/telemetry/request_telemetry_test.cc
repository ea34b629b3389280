// The three signals of one request from one RequestRecord: Istio's HTTP metrics (exact series,
// Envoy's buckets, promtool-clean), the access log line, and the server span.
#include "waypoint/telemetry/request_telemetry.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/common/metrics/promtool_check.h"
#include "waypoint/telemetry/request_access_log.h"

namespace warren::waypoint {
namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kSpan = "00f067aa0ba902b7";

mesh::Workload workload(const std::string& pod, const std::string& owner, const std::string& ns,
                        const std::string& app, const std::string& version) {
  mesh::Workload w;
  w.name = pod;
  w.workload_name = owner;
  w.namespace_ = ns;
  w.canonical_name = app;
  w.canonical_revision = version;
  w.cluster_id = "Kubernetes";
  return w;
}

identity::SpiffeId sa(const std::string& ns, const std::string& name) {
  return *identity::SpiffeId::make("cluster.local", ns, name);
}

// A GET from sleep to echo through the waypoint, answered 200 with 12 body bytes in 3.5 ms.
RequestRecord echoRequest() {
  mesh::Workload sleep = workload("sleep-5d8f-x1", "sleep", "demo", "sleep", "v1");
  mesh::Workload echo = workload("echo-7d9f-y2", "echo", "demo", "echo", "v2");
  RequestRecord r;
  r.start_time = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  r.duration = std::chrono::microseconds(3500);
  r.method = "GET";
  r.authority = "echo:8080";
  r.path = "/hello?x=1";
  r.user_agent = "curl/7.88.1";
  r.protocol = RequestProtocol::kHttp11;
  r.response_code = 200;
  r.response_code_details = "via_upstream";
  r.request_body_bytes = 0;
  r.response_body_bytes = 12;
  r.source =
      RequestPeer::of(&sleep, sa("demo", "sleep"), *net::SocketAddress::parse("10.244.1.5:43210"));
  r.destination = RequestPeer::of(&echo, sa("demo", "echo"), std::nullopt);
  r.service = {"echo.demo.svc.cluster.local", "echo", "demo"};
  r.service_port = 8080;
  r.route_name = "demo/echo-split";
  r.upstream_host = *net::SocketAddress::parse("10.244.2.7:8080");
  r.request_id = "6f1c2f4e-2a47-4b5e-9d3c-0f9b8e7d6c5a";
  return r;
}

const std::string kSeries =
    "{reporter=\"waypoint\",source_workload=\"sleep\",source_canonical_service=\"sleep\","
    "source_canonical_revision=\"v1\",source_workload_namespace=\"demo\","
    "source_principal=\"spiffe://cluster.local/ns/demo/sa/sleep\",source_app=\"sleep\","
    "source_version=\"v1\",source_cluster=\"Kubernetes\","
    "destination_service=\"echo.demo.svc.cluster.local\",destination_service_namespace=\"demo\","
    "destination_service_name=\"echo\",destination_workload=\"echo\","
    "destination_canonical_service=\"echo\",destination_canonical_revision=\"v2\","
    "destination_workload_namespace=\"demo\","
    "destination_principal=\"spiffe://cluster.local/ns/demo/sa/echo\",destination_app=\"echo\","
    "destination_version=\"v2\",destination_cluster=\"Kubernetes\",request_protocol=\"http\","
    "response_code=\"200\",grpc_response_status=\"\",response_flags=\"-\","
    "connection_security_policy=\"mutual_tls\"";

TEST(IstioRequestMetrics, OneSeriesPerLabelSetWithEnvoyBuckets) {
  metrics::Registry registry;
  auto m = IstioRequestMetrics::create(registry);
  ASSERT_TRUE(m) << m.error().message();
  RequestRecord r = echoRequest();
  (*m)->record(r);
  (*m)->record(r);
  std::string text = registry.render();
  EXPECT_NE(text.find("istio_requests_total" + kSeries + "} 2\n"), std::string::npos) << text;
  // 3.5 ms lands in le="5", not in le="1".
  EXPECT_NE(text.find("istio_request_duration_milliseconds_bucket" + kSeries + ",le=\"1\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_request_duration_milliseconds_bucket" + kSeries + ",le=\"5\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_request_duration_milliseconds_sum" + kSeries + "} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_response_bytes_bucket" + kSeries + ",le=\"10\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_response_bytes_bucket" + kSeries + ",le=\"25\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_request_bytes_bucket" + kSeries + ",le=\"0.5\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_request_bytes_bucket" + kSeries + ",le=\"3600000\"} 2\n"),
            std::string::npos);

  // A failed gRPC call with flags is another series, with its own code, status and flags.
  r.protocol = RequestProtocol::kGrpc;
  r.response_code = 200;
  r.grpc_status = 14;
  r.grpc_request_messages = 3;
  r.grpc_response_messages = 2;
  r.response_flags.add(ResponseFlag::kUpstreamConnectionFailure);
  r.response_flags.add(ResponseFlag::kUpstreamRetryLimitExceeded);
  (*m)->record(r);
  text = registry.render();
  EXPECT_NE(text.find("request_protocol=\"grpc\",response_code=\"200\","
                      "grpc_response_status=\"14\",response_flags=\"UF,URX\""),
            std::string::npos)
      << text;
  // gRPC series also count messages; HTTP series have none (as Istio).
  auto lines = [&](const std::string& metric) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with(metric + "{")) out.push_back(line);
    return out;
  };
  auto req_msgs = lines("istio_request_messages_total");
  auto resp_msgs = lines("istio_response_messages_total");
  ASSERT_EQ(req_msgs.size(), 1u) << text;
  ASSERT_EQ(resp_msgs.size(), 1u) << text;
  EXPECT_NE(req_msgs[0].find("request_protocol=\"grpc\""), std::string::npos);
  EXPECT_TRUE(req_msgs[0].ends_with("} 3")) << req_msgs[0];
  EXPECT_TRUE(resp_msgs[0].ends_with("} 2")) << resp_msgs[0];
}

// Each thread keeps the label set it counted last: a request differing in any one label's
// source goes to its own series, interleaved with the first, and a second IstioRequestMetrics
// (its own registry) never counts into the first one's series.
TEST(IstioRequestMetrics, EveryLabelSourceChangesTheSeries) {
  metrics::Registry registry;
  auto m = IstioRequestMetrics::create(registry);
  ASSERT_TRUE(m);
  const RequestRecord base = echoRequest();
  std::vector<std::pair<std::string, RequestRecord>> variants;
  auto variant = [&](const std::string& expect, auto edit) {
    RequestRecord r = base;
    edit(r);
    variants.emplace_back(expect, r);
  };
  variant("source_workload=\"other\"",
          [](RequestRecord& r) { r.source.labels.workload = "other"; });
  variant("destination_version=\"v3\"",
          [](RequestRecord& r) { r.destination.labels.version = "v3"; });
  variant("destination_service_name=\"echo2\"", [](RequestRecord& r) { r.service.name = "echo2"; });
  variant("request_protocol=\"grpc\"",
          [](RequestRecord& r) { r.protocol = RequestProtocol::kGrpc; });
  variant("response_flags=\"UF\"",
          [](RequestRecord& r) { r.response_flags.add(ResponseFlag::kUpstreamConnectionFailure); });
  variant("connection_security_policy=\"unknown\"", [](RequestRecord& r) { r.mtls = false; });
  variant("response_code=\"503\"", [](RequestRecord& r) { r.response_code = 503; });
  variant("grpc_response_status=\"2\"", [](RequestRecord& r) { r.grpc_status = 2; });
  for (const auto& [expect, r] : variants) {
    (*m)->record(base);
    (*m)->record(r);
    (*m)->record(r);
  }
  metrics::Registry other_registry;
  auto other = IstioRequestMetrics::create(other_registry);
  ASSERT_TRUE(other);
  (*m)->record(base);  // this thread's last label set is now base's, counted by `m`
  (*other)->record(base);
  const std::string text = registry.render();
  EXPECT_NE(text.find("istio_requests_total" + kSeries + "} " +
                      std::to_string(variants.size() + 1) + "\n"),
            std::string::npos)
      << text;
  for (const auto& [expect, r] : variants) {
    size_t found = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("istio_requests_total{") && line.find(expect) != std::string::npos) {
        ++found;
        EXPECT_TRUE(line.ends_with("} 2")) << expect << ": " << line;
      }
    EXPECT_EQ(found, 1u) << expect;
  }
  EXPECT_NE(other_registry.render().find("istio_requests_total" + kSeries + "} 1\n"),
            std::string::npos);
}

TEST(IstioRequestMetrics, UnknownPeersAreUnknown) {
  metrics::Registry registry;
  auto m = IstioRequestMetrics::create(registry);
  ASSERT_TRUE(m);
  RequestRecord r;  // nothing known: a request that failed before routing
  r.response_flags.add(ResponseFlag::kDownstreamProtocolError);
  r.response_code = 400;
  (*m)->record(r);
  std::string text = registry.render();
  EXPECT_NE(text.find("istio_requests_total{reporter=\"waypoint\",source_workload=\"unknown\","),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("destination_service=\"unknown\""), std::string::npos);
  EXPECT_NE(text.find("response_code=\"400\",grpc_response_status=\"\",response_flags=\"DPE\""),
            std::string::npos);
}

TEST(IstioRequestMetrics, ExpositionPassesPromtool) {
  if (!metrics::testing::promtoolCheckMetrics(""))
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  metrics::Registry registry;
  auto m = IstioRequestMetrics::create(registry);
  ASSERT_TRUE(m);
  RequestRecord r = echoRequest();
  (*m)->record(r);
  r.path = "/we\"ird";
  r.source.labels.workload = "we\"ird\\name\nhere";
  r.response_code = 503;
  r.response_flags.add(ResponseFlag::kNoHealthyUpstream);
  (*m)->record(r);
  auto check = metrics::testing::promtoolCheckMetrics(registry.render());
  ASSERT_TRUE(check);
  // promtool's linter wants base units; Istio's name is fixed (dashboards query it), so that one
  // lint line (exit status 3: lint problems only) is expected and nothing else: any parse error
  // exits 1 with its own message.
  EXPECT_EQ(check->exit_status, 3) << check->output;
  EXPECT_EQ(check->output,
            "istio_request_duration_milliseconds use base unit \"seconds\" instead of "
            "\"milliseconds\"\n");
}

TEST(RequestAccessLog, GoldenLine) {
  RequestRecord r = echoRequest();
  r.trace = RequestTrace{};
  r.trace->trace_id = *TraceId::fromHex(kTrace);
  EXPECT_EQ(formatRequestComplete(r),
            "request complete src.addr=10.244.1.5:43210 src.workload=\"sleep-5d8f-x1\" "
            "src.namespace=\"demo\" src.identity=\"spiffe://cluster.local/ns/demo/sa/sleep\" "
            "dst.addr=10.244.2.7:8080 dst.service=\"echo.demo.svc.cluster.local\" "
            "dst.workload=\"echo-7d9f-y2\" dst.namespace=\"demo\" "
            "dst.identity=\"spiffe://cluster.local/ns/demo/sa/echo\" method=\"GET\" "
            "path=\"/hello?x=1\" protocol=\"HTTP/1.1\" authority=\"echo:8080\" response_code=200 "
            "route=\"demo/echo-split\" request_id=\"6f1c2f4e-2a47-4b5e-9d3c-0f9b8e7d6c5a\" "
            "trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\" request_bytes=0 response_bytes=12 "
            "duration=\"3ms\" details=\"via_upstream\"");
}

TEST(RequestAccessLog, FailureFieldsAndEscaping) {
  RequestRecord r;
  r.method = "GET";
  r.path = "/a\"b\nc";
  r.protocol = RequestProtocol::kGrpc;
  r.response_code = 200;
  r.grpc_status = 14;
  r.response_flags.add(ResponseFlag::kNoHealthyUpstream);
  r.response_code_details = "no_healthy_upstream";
  EXPECT_EQ(formatRequestComplete(r),
            "request complete method=\"GET\" path=\"/a\\\"b\\nc\" protocol=\"HTTP/2\" "
            "response_code=200 grpc_status=14 request_bytes=0 response_bytes=0 duration=\"0ms\" "
            "flags=\"UH\" details=\"no_healthy_upstream\"");
}

TEST(RequestAccessLog, JsonCarriesTheSameFields) {
  RequestRecord r = echoRequest();
  r.response_flags.add(ResponseFlag::kUpstreamRequestTimeout);
  auto j = nlohmann::json::parse(formatRequestCompleteJson(r));
  EXPECT_EQ(j["message"], "request complete");
  EXPECT_EQ(j["src.identity"], "spiffe://cluster.local/ns/demo/sa/sleep");
  EXPECT_EQ(j["dst.addr"], "10.244.2.7:8080");
  EXPECT_EQ(j["response_code"], 200);
  EXPECT_EQ(j["response_bytes"], 12);
  EXPECT_EQ(j["duration_ms"], 3);
  EXPECT_EQ(j["flags"], "UT");
  EXPECT_FALSE(j.contains("grpc_status"));
}

// What the proxy does, end to end in memory: begin() on the incoming headers, forward, finish().
class VectorSink : public SpanSink {
 public:
  bool submit(SpanData span) override {
    spans.push_back(std::move(span));
    return true;
  }
  std::vector<SpanData> spans;
};

const SpanAttribute* attribute(const SpanData& s, const std::string& key) {
  for (const auto& a : s.attributes)
    if (a.key == key) return &a;
  return nullptr;
}

TEST(RequestTelemetry, ContinuesTheTraceAndReportsEverySignal) {
  metrics::Registry registry;
  VectorSink sink;
  RequestTelemetryOptions options;
  options.spans = &sink;
  options.tracing.sampling_percent = 0;  // only the caller's decision samples
  options.access_log = false;
  auto t = RequestTelemetry::create(registry, options);
  ASSERT_TRUE(t) << t.error().message();
  mesh::SeededRandom random(11);

  RequestRecord r = echoRequest();
  r.request_id.clear();
  HeaderMap upstream{{"traceparent", std::string("00-") + kTrace + "-" + kSpan + "-01"},
                     {"x-request-id", "req-1"}};
  (*t)->begin(r, upstream, random);
  ASSERT_TRUE(r.trace);
  EXPECT_EQ(r.request_id, "req-1");
  std::string span = r.trace->span_id.hex();
  EXPECT_EQ(*upstream.first("traceparent"), std::string("00-") + kTrace + "-" + span + "-01");
  EXPECT_EQ(*upstream.first("x-b3-spanid"), span);
  (*t)->finish(r);

  ASSERT_EQ(sink.spans.size(), 1u);
  const SpanData& s = sink.spans[0];
  EXPECT_EQ(s.trace_id.hex(), kTrace);
  EXPECT_EQ(s.span_id.hex(), span);
  ASSERT_TRUE(s.parent_span_id);
  EXPECT_EQ(s.parent_span_id->hex(), kSpan);
  EXPECT_TRUE(s.parent_remote);
  EXPECT_EQ(s.name, "echo.demo.svc.cluster.local:8080/*");
  EXPECT_EQ(s.end_unix_nanos - s.start_unix_nanos, 3'500'000u);
  EXPECT_EQ(std::get<int64_t>(attribute(s, "http.status_code")->value), 200);
  EXPECT_EQ(std::get<std::string>(attribute(s, "guid:x-request-id")->value), "req-1");
  EXPECT_EQ(std::get<std::string>(attribute(s, "http.url")->value), "http://echo:8080/hello?x=1");
  EXPECT_EQ(std::get<std::string>(attribute(s, "upstream_cluster")->value),
            "outbound|8080||echo.demo.svc.cluster.local");
  EXPECT_FALSE(s.error);
  EXPECT_NE(registry.render().find("istio_requests_total" + kSeries + "} 1\n"), std::string::npos);

  // An unsampled caller: headers still carry the trace (flags 00), no span is exported.
  RequestRecord r2 = echoRequest();
  HeaderMap h2{{"traceparent", std::string("00-") + kTrace + "-" + kSpan + "-00"}};
  (*t)->begin(r2, h2, random);
  EXPECT_TRUE(h2.first("traceparent")->ends_with("-00"));
  (*t)->finish(r2);
  EXPECT_EQ(sink.spans.size(), 1u);
  EXPECT_NE(registry.render().find("istio_requests_total" + kSeries + "} 2\n"), std::string::npos);
}

TEST(RequestTelemetry, WithoutASinkTraceHeadersPassThrough) {
  metrics::Registry registry;
  RequestTelemetryOptions options;
  options.access_log = false;
  auto t = RequestTelemetry::create(registry, options);
  ASSERT_TRUE(t);
  mesh::SeededRandom random(12);
  RequestRecord r = echoRequest();
  std::string tp = std::string("00-") + kTrace + "-" + kSpan + "-01";
  HeaderMap h{{"traceparent", tp}};
  (*t)->begin(r, h, random);
  EXPECT_EQ(*h.first("traceparent"), tp);
  EXPECT_FALSE(r.trace);
  EXPECT_TRUE(h.contains("x-request-id"));  // request ids are independent of tracing
}

TEST(RequestTelemetry, ServerSpanErrorStatus) {
  RequestRecord r = echoRequest();
  r.trace = RequestTrace{};
  r.response_code = 503;
  r.response_flags.add(ResponseFlag::kUpstreamConnectionFailure);
  SpanData s = buildServerSpan(r);
  EXPECT_TRUE(s.error);
  EXPECT_EQ(s.status_message, "HTTP 503");
  EXPECT_EQ(std::get<std::string>(attribute(s, "response_flags")->value), "UF");
  EXPECT_EQ(std::get<bool>(attribute(s, "error")->value), true);
  r.response_code = 200;
  r.grpc_status = 5;
  r.response_flags = {};
  s = buildServerSpan(r);
  EXPECT_TRUE(s.error);
  EXPECT_EQ(s.status_message, "gRPC status 5");
  EXPECT_EQ(std::get<int64_t>(attribute(s, "grpc.status_code")->value), 5);
}

TEST(RequestRecord, ProtocolOfARequest) {
  HttpRequest h1;
  EXPECT_EQ(requestProtocolOf(h1), RequestProtocol::kHttp11);
  HttpRequest h2;
  h2.protocol = HttpProtocol::kHttp2;
  EXPECT_EQ(requestProtocolOf(h2), RequestProtocol::kHttp2);
  h2.headers.add("content-type", "application/grpc+proto");
  EXPECT_EQ(requestProtocolOf(h2), RequestProtocol::kGrpc);
  EXPECT_STREQ(labelValue(RequestProtocol::kGrpc), "grpc");
  EXPECT_STREQ(labelValue(RequestProtocol::kHttp2), "http");
  EXPECT_STREQ(envoyProtocol(RequestProtocol::kGrpc), "HTTP/2");
}

TEST(ResponseFlags, EnvoyShortNamesInEnvoyOrder) {
  ResponseFlags f;
  EXPECT_EQ(f.toString(), "-");
  f.add(ResponseFlag::kUpstreamRetryLimitExceeded);
  f.add(ResponseFlag::kNoHealthyUpstream);
  f.add(ResponseFlag::kUpstreamConnectionFailure);
  EXPECT_EQ(f.toString(), "UH,UF,URX");
  EXPECT_STREQ(shortName(ResponseFlag::kNoRouteFound), "NR");
  EXPECT_STREQ(shortName(ResponseFlag::kDownstreamConnectionTermination), "DC");
}

}  // namespace
}  // namespace warren::waypoint
