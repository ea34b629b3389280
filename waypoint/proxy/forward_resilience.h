// ForwardResilience: what a front end keeps around one forwarded request to carry out the
// route's timeouts, retries and mirrors, whatever the protocol (Http1Session and Http2Exchange
// own one each and act on what it says). It holds the request's RetryPolicy, RequestDeadlines
// and BodyReplay (resilience/, the pure deciders), its place in the worker's RetryBudget, the
// endpoints tried so far, and the three timers (request deadline, attempt deadline, back-off);
// it decides a retry (recording URX and the refusal counters) and counts the deadlines that
// fired. Moving the bytes, and what a timeout or a retry does to the exchange, stay with the
// front end, which passes its reactions in as callbacks (holding itself weakly).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/loop_timer.h"
#include "waypoint/resilience/body_replay.h"
#include "waypoint/resilience/request_deadlines.h"
#include "waypoint/resilience/retry_policy.h"

namespace warren::waypoint {

class ForwardResilience {
 public:
  using OnDeadline = std::function<void(RequestDeadlines::Kind)>;

  explicit ForwardResilience(SessionEnv& env);
  ~ForwardResilience() { end(); }
  ForwardResilience(const ForwardResilience&) = delete;
  ForwardResilience& operator=(const ForwardResilience&) = delete;

  // A request is forwarded with `action`: its policy and deadlines, the body kept when a retry
  // or a mirror may need it again, a place in the budget, and the request deadline armed.
  void begin(const ForwardAction& action, OnDeadline on_deadline);
  // An attempt to `endpoint_uid` starts: remembered (the next attempt avoids it) and its
  // backendRequest deadline armed when it comes before the request's.
  void attemptStarted(const std::string& endpoint_uid);

  // Whether a failed attempt is tried again: the back-off, or none (URX and the refusal
  // counters recorded). `what` names the request for the debug log.
  std::optional<std::chrono::milliseconds> decide(AttemptResult result, const std::string& why,
                                                  RequestRecord& record, std::string_view what);
  // The retry decided goes ahead: counted, the budget entered, `next` runs after `backoff`.
  void retryAfter(std::chrono::milliseconds backoff, std::function<void()> next);
  // A deadline fired: counted (request_timeouts / backend_timeouts); stops the back-off.
  void deadlineFired(RequestDeadlines::Kind kind);

  // The request is over however it ended: timers stopped, budget released. Idempotent.
  void end();
  // The next request on the connection starts from nothing (Http1Session's keep-alive).
  void reset();

  const RetryPolicy& policy() const { return policy_; }
  BodyReplay& replay() { return replay_; }
  const std::vector<std::string>& tried() const { return tried_; }
  uint32_t retriesDone() const { return retries_done_; }
  // How long a mirror copy of this request may live: the route's request timeout, else
  // RequestMirrors::kDefaultLimit.
  std::chrono::milliseconds mirrorLimit() const { return mirror_limit_; }

 private:
  SessionEnv& env_;
  RetryPolicy policy_;
  RequestDeadlines deadlines_;
  BodyReplay replay_;
  OnDeadline on_deadline_;
  uint32_t retries_done_ = 0;
  bool budget_request_ = false;  // the RetryBudget counts this request as active
  bool budget_retry_ = false;    // ... and as retrying
  std::vector<std::string> tried_;
  std::chrono::milliseconds mirror_limit_{0};
  LoopTimer request_timer_;
  LoopTimer attempt_timer_;
  LoopTimer backoff_timer_;
};

// The endpoints the route's mirrors go to, one per mirror that resolves to a Service with an
// endpoint (least request, not counted: a copy is fire-and-forget); the others are counted as
// skipped in env.mirrors. Empty without env.mirrors.
std::vector<UpstreamChoice> mirrorEndpoints(SessionEnv& env, const RouteConfig& routes,
                                            const ConnectionFacts& facts,
                                            const std::vector<BackendTarget>& mirrors);

}  // namespace warren::waypoint
