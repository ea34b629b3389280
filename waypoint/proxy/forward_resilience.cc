#include "waypoint/proxy/forward_resilience.h"

#include <spdlog/spdlog.h>

#include "waypoint/proxy/request_steps.h"

namespace warren::waypoint {

ForwardResilience::ForwardResilience(SessionEnv& env) : env_(env) {
  request_timer_.setLoop(env.loop);
  attempt_timer_.setLoop(env.loop);
  backoff_timer_.setLoop(env.loop);
}

void ForwardResilience::begin(const ForwardAction& action, OnDeadline on_deadline) {
  policy_ = RetryPolicy::from(action.retry);
  on_deadline_ = std::move(on_deadline);
  auto now = std::chrono::steady_clock::now();
  deadlines_ = RequestDeadlines(action.timeouts, now);
  // The body is kept only when it may be sent again: a retry, or a copy to a mirror.
  replay_.reset(policy_.enabled() || (!action.mirrors.empty() && env_.mirrors));
  mirror_limit_ = action.timeouts.request && action.timeouts.request->count() > 0
                      ? *action.timeouts.request
                      : RequestMirrors::kDefaultLimit;
  if (env_.retry_budget && !budget_request_) {
    env_.retry_budget->requestStarted();
    budget_request_ = true;
  }
  if (auto at = deadlines_.request()) {
    request_timer_.arm(*at - now, [this] {
      if (on_deadline_) on_deadline_(RequestDeadlines::Kind::kRequest);
    });
  }
}

void ForwardResilience::attemptStarted(const std::string& endpoint_uid) {
  tried_.push_back(endpoint_uid);
  auto d = deadlines_.forAttempt(std::chrono::steady_clock::now());
  // The request's own deadline has its timer (request_timer_); only an earlier one is armed.
  if (!d || d->kind != RequestDeadlines::Kind::kBackendRequest) {
    attempt_timer_.cancel();
    return;
  }
  attempt_timer_.arm(d->at - std::chrono::steady_clock::now(), [this] {
    if (on_deadline_) on_deadline_(RequestDeadlines::Kind::kBackendRequest);
  });
}

std::optional<std::chrono::milliseconds> ForwardResilience::decide(AttemptResult result,
                                                                   const std::string& why,
                                                                   RequestRecord& record,
                                                                   std::string_view what) {
  RetryQuery q;
  q.result = result;
  q.retries_done = retries_done_;
  q.body_replayable = replay_.replayable();
  // A request already retrying holds its place in the budget for its later retries.
  q.budget_allows = !env_.retry_budget || budget_retry_ || env_.retry_budget->allowsRetry();
  q.time_left = deadlines_.timeLeft(std::chrono::steady_clock::now());
  q.backoff = retryBackoff(policy_, retries_done_, *env_.random);
  RetryVerdict verdict = decideRetry(policy_, q);
  if (verdict == RetryVerdict::kRetry) {
    spdlog::debug("waypoint: {}: attempt {} failed ({}: {}), retrying in {} ms", what,
                  retries_done_ + 1, toString(result.failure), why, q.backoff.count());
    return q.backoff;
  }
  if (verdict == RetryVerdict::kExhausted) {
    record.response_flags.add(ResponseFlag::kUpstreamRetryLimitExceeded);
    if (env_.resilience) ++env_.resilience->retries_exhausted;
  } else if (verdict == RetryVerdict::kBudgetExceeded) {
    env_.retry_budget->refused();
    if (env_.resilience) ++env_.resilience->retries_over_budget;
  } else if (verdict == RetryVerdict::kBodyTooLarge && env_.resilience) {
    ++env_.resilience->retries_body_too_large;
  }
  return std::nullopt;
}

void ForwardResilience::retryAfter(std::chrono::milliseconds backoff, std::function<void()> next) {
  ++retries_done_;
  if (env_.resilience) ++env_.resilience->retries;
  if (env_.retry_budget && !budget_retry_) {
    env_.retry_budget->retryStarted();
    budget_retry_ = true;
  }
  attempt_timer_.cancel();
  backoff_timer_.arm(backoff, std::move(next));
}

void ForwardResilience::deadlineFired(RequestDeadlines::Kind kind) {
  if (env_.resilience)
    ++(kind == RequestDeadlines::Kind::kRequest ? env_.resilience->request_timeouts
                                                : env_.resilience->backend_timeouts);
  backoff_timer_.cancel();
}

void ForwardResilience::end() {
  request_timer_.cancel();
  attempt_timer_.cancel();
  backoff_timer_.cancel();
  if (budget_request_) env_.retry_budget->requestEnded();
  if (budget_retry_) env_.retry_budget->retryEnded();
  budget_request_ = budget_retry_ = false;
}

void ForwardResilience::reset() {
  end();
  policy_ = RetryPolicy{};
  deadlines_ = RequestDeadlines{};
  replay_.reset(false);
  on_deadline_ = nullptr;
  retries_done_ = 0;
  tried_.clear();
}

std::vector<UpstreamChoice> mirrorEndpoints(SessionEnv& env, const RouteConfig& routes,
                                            const ConnectionFacts& facts,
                                            const std::vector<BackendTarget>& mirrors) {
  std::vector<UpstreamChoice> out;
  if (!env.mirrors) return out;
  const auto& snapshot = env.state->get();
  const mesh::Workload* local = env.local_workload(*snapshot);
  for (const BackendTarget& m : mirrors) {
    ResolvedBackend b = resolveBackend(*snapshot, routes, facts, m);
    std::expected<UpstreamChoice, UpstreamRefusal> choice = std::unexpected(UpstreamRefusal{});
    if (b.service && local)
      choice = env.upstreams->choose(*snapshot, *b.service, b.port, *local, *env.random);
    if (choice) {
      out.push_back(*choice);
    } else {
      env.mirrors->skipped();
    }
  }
  return out;
}

}  // namespace warren::waypoint
