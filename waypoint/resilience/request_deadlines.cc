#include "waypoint/resilience/request_deadlines.h"

namespace warren::waypoint {

RequestDeadlines::RequestDeadlines(const RouteTimeouts& timeouts, Clock::time_point routed_at) {
  if (timeouts.request && timeouts.request->count() > 0) request_ = routed_at + *timeouts.request;
  if (timeouts.backend_request && timeouts.backend_request->count() > 0)
    per_attempt_ = *timeouts.backend_request;
}

std::optional<RequestDeadlines::Deadline> RequestDeadlines::forAttempt(
    Clock::time_point attempt_start) const {
  std::optional<Deadline> out;
  if (request_) out = Deadline{*request_, Kind::kRequest};
  if (per_attempt_) {
    Clock::time_point at = attempt_start + *per_attempt_;
    if (!out || at < out->at) out = Deadline{at, Kind::kBackendRequest};
  }
  return out;
}

std::optional<std::chrono::milliseconds> RequestDeadlines::timeLeft(Clock::time_point now) const {
  if (!request_) return std::nullopt;
  if (now >= *request_) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*request_ - now);
}

const char* toString(RequestDeadlines::Kind k) {
  return k == RequestDeadlines::Kind::kRequest ? "response_timeout" : "upstream_per_try_timeout";
}

}  // namespace warren::waypoint
