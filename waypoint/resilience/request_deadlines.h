// The deadlines of one request (Gateway API HTTPRouteTimeouts, GEP-1742), decided apart from
// the front end that arms the timers. timeouts.request bounds the whole exchange, every retry
// and back-off included, from the moment the request was routed until its response is
// complete; timeouts.backendRequest bounds each attempt, from its start (the connection to the
// endpoint included) until its response is complete. Zero or unset disables either (Istio's
// default: no route timeout). When both would fire, the earlier wins, and says which it was:
// the request's (504, response flag UT, details `response_timeout`, never retried) or the
// attempt's (UT, `upstream_per_try_timeout`, retried when the retry policy allows).
#pragma once

#include <chrono>
#include <optional>

#include "waypoint/route/route_model.h"

namespace warren::waypoint {

class RequestDeadlines {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Kind { kRequest, kBackendRequest };
  struct Deadline {
    Clock::time_point at;
    Kind kind;
    friend bool operator==(const Deadline&, const Deadline&) = default;
  };

  RequestDeadlines() = default;
  RequestDeadlines(const RouteTimeouts& timeouts, Clock::time_point routed_at);

  // The whole request's deadline, if any.
  std::optional<Clock::time_point> request() const { return request_; }
  // The deadline of an attempt started at `attempt_start`: the earlier of the request's and
  // attempt_start + backendRequest.
  std::optional<Deadline> forAttempt(Clock::time_point attempt_start) const;
  // Time left for the request at `now` (zero when past); none without a request timeout.
  std::optional<std::chrono::milliseconds> timeLeft(Clock::time_point now) const;

 private:
  std::optional<Clock::time_point> request_;
  std::optional<std::chrono::milliseconds> per_attempt_;
};

const char* toString(RequestDeadlines::Kind k);  // "response_timeout" | "upstream_per_try_timeout"

}  // namespace warren::waypoint
