#include "waypoint/telemetry/otlp_exporter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/http/http_client.h"
#include "common/http/http_url.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace warren::waypoint {
namespace {

namespace otlp_common = opentelemetry::proto::common::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;
namespace otlp_collector = opentelemetry::proto::collector::trace::v1;

constexpr uint16_t kOtlpHttpPort = 4318;
constexpr std::string_view kTracesPath = "/v1/traces";
constexpr const char* kProtobufContentType = "application/x-protobuf";

// W3C trace flags in bits 0-7; bit 8: "is the parent remote" is known; bit 9: it is.
constexpr uint32_t kFlagSampled = 0x01;
constexpr uint32_t kFlagHasIsRemote = 0x100;
constexpr uint32_t kFlagIsRemote = 0x200;

void setAttribute(otlp_common::KeyValue* kv, const SpanAttribute& a) {
  kv->set_key(a.key);
  auto* v = kv->mutable_value();
  if (auto* s = std::get_if<std::string>(&a.value)) {
    v->set_string_value(*s);
  } else if (auto* i = std::get_if<int64_t>(&a.value)) {
    v->set_int_value(*i);
  } else {
    v->set_bool_value(std::get<bool>(a.value));
  }
}

template <size_t N>
std::string bytesOf(const std::array<uint8_t, N>& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), N);
}

// OTLP/HTTP: 429, 502, 503 and 504 are the retryable answers (OTLP spec, "Retryable Response
// Codes"); every other non-2xx is final.
bool retryable(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

}  // namespace

Result<OtlpEndpoint> OtlpEndpoint::parse(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return fail(Error::invalid(fmt::format("--tracing-otlp-endpoint \"{}\": {}", url, why)));
  };
  auto u = http::parseHttpUrl(url, kOtlpHttpPort);
  if (!u) return bad(u.error().message());
  if (u->target.find('?') != std::string::npos) return bad("a query is not supported");
  OtlpEndpoint e;
  e.origin = u->origin();
  e.path = u->target.empty() || u->target == "/" ? std::string(kTracesPath) : u->target;
  return e;
}

std::string encodeExportRequest(const OtlpResource& resource, const std::vector<SpanData>& spans) {
  otlp_collector::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  for (const auto& [k, v] : resource.attributes)
    setAttribute(rs->mutable_resource()->add_attributes(), {k, v});
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name(resource.scope_name);
  ss->mutable_scope()->set_version(resource.scope_version);
  for (const SpanData& s : spans) {
    auto* p = ss->add_spans();
    p->set_trace_id(bytesOf(s.trace_id.bytes));
    p->set_span_id(bytesOf(s.span_id.bytes));
    if (s.parent_span_id) p->set_parent_span_id(bytesOf(s.parent_span_id->bytes));
    p->set_trace_state(s.tracestate);
    p->set_flags((s.sampled ? kFlagSampled : 0) | kFlagHasIsRemote |
                 (s.parent_remote ? kFlagIsRemote : 0));
    p->set_name(s.name);
    p->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
    p->set_start_time_unix_nano(s.start_unix_nanos);
    p->set_end_time_unix_nano(s.end_unix_nanos);
    for (const SpanAttribute& a : s.attributes) setAttribute(p->add_attributes(), a);
    if (s.error) {
      p->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
      p->mutable_status()->set_message(s.status_message);
    }
  }
  return req.SerializeAsString();
}

Result<std::unique_ptr<OtlpExporter>> OtlpExporter::start(OtlpExporterOptions options,
                                                          metrics::Registry& registry) {
  if (options.max_queue_spans == 0 || options.max_batch_spans == 0 || options.max_attempts < 1)
    return fail(Error::invalid("OTLP exporter: queue, batch and attempts must be at least 1"));
  auto spans = registry.counter("warren_tracing_spans_total",
                                "Spans the waypoint finished, by what became of them", {"outcome"});
  if (!spans) return fail(spans.error());
  auto requests = registry.counter("warren_tracing_export_requests_total",
                                   "OTLP export requests, by result", {"result"});
  if (!requests) return fail(requests.error());
  std::unique_ptr<OtlpExporter> e(new OtlpExporter(std::move(options)));
  e->exported_ = *(*spans)->withLabels({"exported"});
  e->dropped_queue_full_ = *(*spans)->withLabels({"dropped_queue_full"});
  e->dropped_export_failed_ = *(*spans)->withLabels({"dropped_export_failed"});
  e->rejected_ = *(*spans)->withLabels({"rejected_by_collector"});
  e->requests_ok_ = *(*requests)->withLabels({"ok"});
  e->requests_retried_ = *(*requests)->withLabels({"retried"});
  e->requests_failed_ = *(*requests)->withLabels({"failed"});
  e->thread_ = std::thread([raw = e.get()] { raw->run(); });
  return e;
}

OtlpExporter::OtlpExporter(OtlpExporterOptions options) : options_(std::move(options)) {}

OtlpExporter::~OtlpExporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool OtlpExporter::submit(SpanData span) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queue_spans || stopping_) {
      dropped_queue_full_->inc();
      return false;
    }
    queue_.push_back(std::move(span));
    if (queue_.size() < options_.max_batch_spans) return true;
  }
  cv_.notify_one();
  return true;
}

OtlpExporter::Stats OtlpExporter::stats() const {
  Stats s;
  {
    std::lock_guard lock(mu_);
    s.queued = queue_.size();
  }
  s.exported = exported_->value();
  s.dropped_queue_full = dropped_queue_full_->value();
  s.dropped_export_failed = dropped_export_failed_->value();
  s.rejected = rejected_->value();
  s.retries = requests_retried_->value();
  return s;
}

void OtlpExporter::run() {
  std::unique_lock lock(mu_);
  while (true) {
    // A full batch is sent at once; a partial one when the interval has passed.
    cv_.wait_for(lock, options_.flush_interval,
                 [&] { return stopping_ || queue_.size() >= options_.max_batch_spans; });
    bool final = stopping_;  // submit refuses spans from now on: drain and leave
    while (!queue_.empty()) {
      size_t n = std::min(queue_.size(), options_.max_batch_spans);
      std::vector<SpanData> batch(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.begin() + static_cast<long>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
      lock.unlock();
      send(std::move(batch), final);
      lock.lock();
      if (!final && queue_.size() < options_.max_batch_spans) break;  // the rest waits a tick
    }
    if (final) return;
  }
}

bool OtlpExporter::sleepUnlessStopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

void OtlpExporter::send(std::vector<SpanData> batch, bool final) {
  http::ClientRequest req = http::ClientRequest::withMethod(
      "POST", options_.endpoint.path, encodeExportRequest(options_.resource, batch));
  req.content_type = kProtobufContentType;
  req.timeout = options_.export_timeout;
  std::chrono::milliseconds backoff = options_.initial_backoff;
  std::string last_error;
  int attempts = final ? 1 : options_.max_attempts;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    auto res = http::httpRequestToOrigin(options_.endpoint.origin, req);
    bool again = false;
    if (!res) {
      last_error = res.error().message();
      again = true;
    } else if (res->status >= 200 && res->status < 300) {
      requests_ok_->inc();
      uint64_t rejected = 0;
      otlp_collector::ExportTraceServiceResponse answer;
      if (!res->body.empty() && answer.ParseFromString(res->body) && answer.has_partial_success()) {
        rejected =
            static_cast<uint64_t>(std::max<int64_t>(0, answer.partial_success().rejected_spans()));
        if (rejected > batch.size()) rejected = batch.size();
        if (rejected > 0)
          spdlog::warn("OTLP collector {} rejected {} of {} spans: {}", options_.endpoint.origin,
                       rejected, batch.size(), answer.partial_success().error_message());
      }
      rejected_->inc(rejected);
      exported_->inc(batch.size() - rejected);
      return;
    } else {
      last_error = fmt::format("HTTP {}", res->status);
      again = retryable(res->status);
    }
    if (!again || attempt == attempts) break;
    requests_retried_->inc();
    if (!sleepUnlessStopping(backoff)) {
      last_error += " (shutting down)";
      break;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  requests_failed_->inc();
  dropped_export_failed_->inc(batch.size());
  spdlog::warn("OTLP export of {} spans to {}{} failed: {}", batch.size(), options_.endpoint.origin,
               options_.endpoint.path, last_error);
}

}  // namespace warren::waypoint
