#include "waypoint/telemetry/request_metrics.h"

#include <atomic>

namespace warren::waypoint {

namespace {
std::atomic<uint64_t> next_metrics_id{1};
}  // namespace

IstioRequestMetrics::IstioRequestMetrics() : id_(next_metrics_id.fetch_add(1)) {}

bool IstioRequestMetrics::LabelSource::matches(const RequestRecord& r) const {
  return response_code == r.response_code && grpc_status == r.grpc_status &&
         protocol == r.protocol && flags == r.response_flags && mtls == r.mtls &&
         service == r.service && source == r.source.labels && destination == r.destination.labels;
}

IstioRequestMetrics::LabelSource IstioRequestMetrics::LabelSource::of(const RequestRecord& r) {
  return LabelSource{r.source.labels, r.destination.labels, r.service,
                     r.protocol,      r.response_flags,     r.mtls,
                     r.response_code, r.grpc_status};
}

const std::vector<double>& IstioRequestMetrics::envoyDefaultBuckets() {
  static const std::vector<double> kBuckets = {0.5,   1,      5,      10,      25,     50,    100,
                                               250,   500,    1000,   2500,    5000,   10000, 30000,
                                               60000, 300000, 600000, 1800000, 3600000};
  return kBuckets;
}

Result<std::unique_ptr<IstioRequestMetrics>> IstioRequestMetrics::create(
    metrics::Registry& registry) {
  const auto& names = metrics::requestLabelNames();
  auto m = std::make_unique<IstioRequestMetrics>();
  auto requests = registry.counter("istio_requests_total",
                                   "The total number of requests handled by the proxy", names);
  if (!requests) return fail(requests.error());
  auto duration =
      registry.histogram("istio_request_duration_milliseconds",
                         "The duration of requests in milliseconds", names, envoyDefaultBuckets());
  if (!duration) return fail(duration.error());
  auto request_bytes =
      registry.histogram("istio_request_bytes", "The size of HTTP request bodies in bytes", names,
                         envoyDefaultBuckets());
  if (!request_bytes) return fail(request_bytes.error());
  auto response_bytes =
      registry.histogram("istio_response_bytes", "The size of HTTP response bodies in bytes", names,
                         envoyDefaultBuckets());
  if (!response_bytes) return fail(response_bytes.error());
  auto request_messages =
      registry.counter("istio_request_messages_total",
                       "The total number of gRPC messages sent from the client", names);
  if (!request_messages) return fail(request_messages.error());
  auto response_messages =
      registry.counter("istio_response_messages_total",
                       "The total number of gRPC messages sent from the server", names);
  if (!response_messages) return fail(response_messages.error());
  m->request_messages_ = *request_messages;
  m->response_messages_ = *response_messages;
  m->requests_ = *requests;
  m->duration_ = *duration;
  m->request_bytes_ = *request_bytes;
  m->response_bytes_ = *response_bytes;
  return m;
}

void IstioRequestMetrics::record(const RequestRecord& r) {
  thread_local LastSeries last;
  if (last.owner != id_ || !last.labels.matches(r)) {
    last.series = seriesFor(r);
    last.labels = LabelSource::of(r);
    last.owner = id_;
  }
  const Series& s = last.series;
  s.requests->inc();
  s.duration_ms->observe(static_cast<double>(r.duration.count()) / 1000.0);
  s.request_bytes->observe(static_cast<double>(r.request_body_bytes));
  s.response_bytes->observe(static_cast<double>(r.response_body_bytes));
  if (s.request_messages) s.request_messages->inc(r.grpc_request_messages.value_or(0));
  if (s.response_messages) s.response_messages->inc(r.grpc_response_messages.value_or(0));
}

IstioRequestMetrics::Series IstioRequestMetrics::seriesFor(const RequestRecord& r) {
  auto values =
      metrics::requestLabelValues(requestTrafficLabels(r), std::to_string(r.response_code),
                                  r.grpc_status ? std::to_string(*r.grpc_status) : std::string());
  Series s;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = series_.try_emplace(std::move(values));
    if (inserted) {
      // The value count always matches the label count here, so withLabels cannot fail.
      Series& created = it->second;
      created.requests = *requests_->withLabels(it->first);
      created.duration_ms = *duration_->withLabels(it->first);
      created.request_bytes = *request_bytes_->withLabels(it->first);
      created.response_bytes = *response_bytes_->withLabels(it->first);
      // Message counters exist for gRPC series only, as Istio reports them.
      if (r.protocol == RequestProtocol::kGrpc) {
        created.request_messages = *request_messages_->withLabels(it->first);
        created.response_messages = *response_messages_->withLabels(it->first);
      }
    }
    s = it->second;
  }
  return s;
}

}  // namespace warren::waypoint
