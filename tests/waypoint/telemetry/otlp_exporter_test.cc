// The OTLP/HTTP exporter against a real HTTP server on a loopback socket in the test: what it
// POSTs is decoded with the generated OTLP classes and checked field by field; retries on 503,
// a 400 drops the batch, a full queue drops and counts.
#include "waypoint/telemetry/otlp_exporter.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "common/http/http_server.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace warren::waypoint {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParent = "00f067aa0ba902b7";

// A collector: records every POST /v1/traces, answers with the next scripted status (then 200).
class FakeCollector {
 public:
  explicit FakeCollector(std::vector<int> statuses = {}) : statuses_(std::move(statuses)) {
    http::Router router;
    router.add("POST", "/v1/traces", [this](const http::HttpRequest& req) {
      std::lock_guard lock(mu_);
      content_types_.push_back(req.headers.count("content-type") ? req.headers.at("content-type")
                                                                 : "");
      int status = 200;
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.erase(statuses_.begin());
      }
      if (status == 200) {
        collector::ExportTraceServiceRequest r;
        if (!r.ParseFromString(req.body)) status = 400;
        accepted_.push_back(std::move(r));
      }
      ++posts_;
      cv_.notify_all();
      collector::ExportTraceServiceResponse answer;
      return http::HttpResponse{status, "application/x-protobuf", answer.SerializeAsString(), {}};
    });
    auto server = http::HttpServer::start(
        http::HttpServerOptions::at(http::ListenAddress::tcp(net::SocketAddress::loopbackV4(0)),
                                    "collector"),
        std::move(router));
    EXPECT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
  }

  std::string url() const { return "http://" + server_->address().toString(); }

  // Waits (bounded) until `n` POSTs have been answered.
  bool waitForPosts(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return posts_ >= n; });
  }

  std::vector<collector::ExportTraceServiceRequest> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<std::string> contentTypes() {
    std::lock_guard lock(mu_);
    return content_types_;
  }
  size_t posts() {
    std::lock_guard lock(mu_);
    return posts_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> statuses_;
  std::vector<collector::ExportTraceServiceRequest> accepted_;
  std::vector<std::string> content_types_;
  size_t posts_ = 0;
  std::unique_ptr<http::HttpServer> server_;
};

SpanData span(uint64_t id, bool with_parent) {
  SpanData s;
  s.trace_id = *TraceId::fromHex(kTrace);
  s.span_id = SpanId::fromUint64(id);
  if (with_parent) {
    s.parent_span_id = SpanId::fromHex(kParent);
    s.parent_remote = true;
  }
  s.tracestate = "congo=1";
  s.name = "echo.demo.svc.cluster.local:8080/*";
  s.start_unix_nanos = 1'700'000'000'000'000'000ULL;
  s.end_unix_nanos = s.start_unix_nanos + 3'500'000;
  s.attributes = {
      {"http.method", std::string("GET")}, {"http.status_code", int64_t{503}}, {"error", true}};
  s.error = true;
  s.status_message = "HTTP 503";
  return s;
}

OtlpExporterOptions options(const std::string& url) {
  OtlpExporterOptions o;
  o.endpoint = *OtlpEndpoint::parse(url);
  o.resource.attributes = {{"service.name", "waypoint.demo"}, {"k8s.namespace.name", "demo"}};
  o.resource.scope_version = "test";
  o.max_batch_spans = 2;                     // a batch as soon as two spans wait
  o.flush_interval = std::chrono::hours(1);  // never by the clock in these tests
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(40);
  return o;
}

std::string bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

TEST(OtlpExporter, PostsProtobufTheCollectorDecodes) {
  FakeCollector c;
  metrics::Registry registry;
  auto e = OtlpExporter::start(options(c.url()), registry);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_TRUE((*e)->submit(span(1, true)));
  EXPECT_TRUE((*e)->submit(span(2, false)));
  ASSERT_TRUE(c.waitForPosts(1));

  auto accepted = c.accepted();
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(c.contentTypes()[0], "application/x-protobuf");
  const auto& req = accepted[0];
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  ASSERT_EQ(rs.resource().attributes_size(), 2);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "waypoint.demo");
  ASSERT_EQ(rs.scope_spans_size(), 1);
  EXPECT_EQ(rs.scope_spans(0).scope().name(), "warren-waypoint");
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 2);
  const otlp_trace::Span& s = rs.scope_spans(0).spans(0);
  EXPECT_EQ(s.trace_id(), bytes(kTrace));
  EXPECT_EQ(s.span_id(), bytes("0000000000000001"));
  EXPECT_EQ(s.parent_span_id(), bytes(kParent));
  EXPECT_EQ(s.trace_state(), "congo=1");
  EXPECT_EQ(s.flags(), 0x301u);  // sampled, parent known remote
  EXPECT_EQ(s.kind(), otlp_trace::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(s.name(), "echo.demo.svc.cluster.local:8080/*");
  EXPECT_EQ(s.end_time_unix_nano() - s.start_time_unix_nano(), 3'500'000u);
  ASSERT_EQ(s.attributes_size(), 3);
  EXPECT_EQ(s.attributes(0).key(), "http.method");
  EXPECT_EQ(s.attributes(0).value().string_value(), "GET");
  EXPECT_EQ(s.attributes(1).value().int_value(), 503);
  EXPECT_TRUE(s.attributes(2).value().bool_value());
  EXPECT_EQ(s.status().code(), otlp_trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(s.status().message(), "HTTP 503");
  const otlp_trace::Span& root = rs.scope_spans(0).spans(1);
  EXPECT_EQ(root.parent_span_id(), "");  // a root span has no parent
  EXPECT_EQ(root.flags(), 0x101u);       // sampled, parent known not remote

  e->reset();  // joins the sender: the counters are final
  EXPECT_NE(registry.render().find("warren_tracing_spans_total{outcome=\"exported\"} 2\n"),
            std::string::npos)
      << registry.render();
}

TEST(OtlpExporter, RetriesRetryableAnswersWithBackoff) {
  FakeCollector c({503, 429});
  metrics::Registry registry;
  auto e = OtlpExporter::start(options(c.url()), registry);
  ASSERT_TRUE(e);
  (*e)->submit(span(1, true));
  (*e)->submit(span(2, true));
  ASSERT_TRUE(c.waitForPosts(3));
  auto stats = (*e)->stats();
  EXPECT_EQ(stats.retries, 2u);
  ASSERT_EQ(c.accepted().size(), 1u);  // the third attempt got through, whole
  EXPECT_EQ(c.accepted()[0].resource_spans(0).scope_spans(0).spans_size(), 2);
  e->reset();
  EXPECT_EQ(c.posts(), 3u);
}

TEST(OtlpExporter, FinalErrorDropsTheBatchAndCounts) {
  FakeCollector c({400});
  metrics::Registry registry;
  auto e = OtlpExporter::start(options(c.url()), registry);
  ASSERT_TRUE(e);
  (*e)->submit(span(1, true));
  (*e)->submit(span(2, true));
  ASSERT_TRUE(c.waitForPosts(1));
  e->reset();
  EXPECT_EQ(c.posts(), 1u);  // 400 is not retried
  EXPECT_NE(
      registry.render().find("warren_tracing_spans_total{outcome=\"dropped_export_failed\"} 2\n"),
      std::string::npos)
      << registry.render();
}

TEST(OtlpExporter, GivesUpAfterMaxAttempts) {
  FakeCollector c({503, 503, 503});
  metrics::Registry registry;
  auto o = options(c.url());
  o.max_attempts = 3;
  auto e = OtlpExporter::start(o, registry);
  ASSERT_TRUE(e);
  (*e)->submit(span(1, true));
  (*e)->submit(span(2, true));
  ASSERT_TRUE(c.waitForPosts(3));
  e->reset();
  EXPECT_EQ(c.posts(), 3u);
  EXPECT_TRUE(c.accepted().empty());
  EXPECT_NE(
      registry.render().find("warren_tracing_spans_total{outcome=\"dropped_export_failed\"} 2\n"),
      std::string::npos);
}

TEST(OtlpExporter, FullQueueDropsAndCountsWithoutBlocking) {
  FakeCollector c;
  metrics::Registry registry;
  auto o = options(c.url());
  o.max_queue_spans = 3;
  o.max_batch_spans = 100;  // nothing is sent before shutdown
  auto e = OtlpExporter::start(o, registry);
  ASSERT_TRUE(e);
  int accepted = 0;
  for (uint64_t i = 1; i <= 10; ++i) accepted += (*e)->submit(span(i, false));
  EXPECT_EQ(accepted, 3);
  auto stats = (*e)->stats();
  EXPECT_EQ(stats.dropped_queue_full, 7u);
  EXPECT_EQ(stats.queued, 3u);
  EXPECT_NE(
      registry.render().find("warren_tracing_spans_total{outcome=\"dropped_queue_full\"} 7\n"),
      std::string::npos);
  e->reset();  // shutdown sends what was queued, once
  ASSERT_EQ(c.accepted().size(), 1u);
  EXPECT_EQ(c.accepted()[0].resource_spans(0).scope_spans(0).spans_size(), 3);
}

TEST(OtlpExporter, UnreachableCollectorDropsAfterRetries) {
  metrics::Registry registry;
  std::string url;
  {
    FakeCollector gone;  // a port that was just listening and is closed now
    url = gone.url();
  }
  auto o = options(url);
  o.max_attempts = 2;
  auto e = OtlpExporter::start(o, registry);
  ASSERT_TRUE(e);
  (*e)->submit(span(1, false));
  (*e)->submit(span(2, false));
  e->reset();
  EXPECT_NE(
      registry.render().find("warren_tracing_spans_total{outcome=\"dropped_export_failed\"} 2\n"),
      std::string::npos)
      << registry.render();
}

TEST(OtlpEndpoint, ParseTable) {
  struct Row {
    const char* url;
    const char* origin;  // nullptr: refused
    const char* path;
    const char* reason;
  };
  const Row rows[] = {
      {"http://collector:4318", "http://collector:4318", "/v1/traces", ""},
      {"http://collector", "http://collector:4318", "/v1/traces", ""},
      {"http://10.0.0.5:4318/", "http://10.0.0.5:4318", "/v1/traces", ""},
      {"http://otel.observability.svc:9999/custom/traces", "http://otel.observability.svc:9999",
       "/custom/traces", ""},
      {"http://[fd00::5]:4318", "http://[fd00::5]:4318", "/v1/traces", ""},
      {"http://[fd00::5]", "http://[fd00::5]:4318", "/v1/traces", ""},
      {"https://collector:4318", nullptr, "", "https is not supported"},
      {"collector:4318", nullptr, "", "must start with http://"},
      {"http://", nullptr, "", "no host"},
      {"http://:4318", nullptr, "", "no host"},
      {"http://collector:0", nullptr, "", "port"},
      {"http://collector:70000", nullptr, "", "port"},
      {"http://collector:", nullptr, "", "port"},
      {"http://collector:43x", nullptr, "", "port"},
      {"http://user@collector", nullptr, "", "userinfo"},
      {"http://collector/v1/traces?x=1", nullptr, "", "query"},
      {"http://coll ector", nullptr, "", "invalid character"},
      {"http://[fd00::5", nullptr, "", "unterminated"},
      {"http://fd00::5:4318", nullptr, "", "IPv6 needs [brackets]"},
  };
  for (const Row& row : rows) {
    auto e = OtlpEndpoint::parse(row.url);
    if (!row.origin) {
      ASSERT_FALSE(e) << row.url;
      EXPECT_NE(e.error().message().find(row.reason), std::string::npos) << e.error().message();
      EXPECT_NE(e.error().message().find("--tracing-otlp-endpoint"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(e) << row.url << ": " << e.error().message();
    EXPECT_EQ(e->origin, row.origin) << row.url;
    EXPECT_EQ(e->path, row.path) << row.url;
  }
}

}  // namespace
}  // namespace warren::waypoint
