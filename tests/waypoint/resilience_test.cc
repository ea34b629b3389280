// The protocol-neutral resilience deciders (waypoint/resilience/): the retry decision, the
// back-off, the retry budget, the request deadlines and the replay buffer, as tables.
#include <gtest/gtest.h>

#include "route_builders.h"
#include "waypoint/resilience/body_replay.h"
#include "waypoint/resilience/request_deadlines.h"
#include "waypoint/resilience/retry_budget.h"
#include "waypoint/resilience/retry_policy.h"

namespace warren::waypoint {
namespace {

using std::chrono::milliseconds;
using namespace testing;

RouteRetry retry(std::optional<uint32_t> attempts, std::vector<int> codes,
                 std::optional<milliseconds> backoff = std::nullopt) {
  RouteRetry r;
  r.attempts = attempts;
  r.codes = std::move(codes);
  r.backoff = backoff;
  return r;
}

TEST(RetryPolicy, FromTheRoute) {
  RetryPolicy none = RetryPolicy::from(std::nullopt);
  EXPECT_FALSE(none.enabled()) << "a rule without retry is not retried";
  RetryPolicy defaults = RetryPolicy::from(retry(std::nullopt, {503}));
  EXPECT_EQ(defaults.retries, 2u) << "Istio's default attempts";
  EXPECT_EQ(defaults.base_backoff, milliseconds(25)) << "Envoy's default base interval";
  EXPECT_EQ(defaults.max_backoff, milliseconds(250));
  RetryPolicy off = RetryPolicy::from(retry(0, {503}));
  EXPECT_FALSE(off.enabled()) << "attempts: 0 disables";
  RetryPolicy set = RetryPolicy::from(retry(4, {500, 502}, milliseconds(100)));
  EXPECT_EQ(set.retries, 4u);
  EXPECT_EQ(set.base_backoff, milliseconds(100));
  EXPECT_EQ(set.max_backoff, milliseconds(1000));
  EXPECT_TRUE(set.retriableStatus(502));
  EXPECT_FALSE(set.retriableStatus(503));
  RetryPolicy zero = RetryPolicy::from(retry(1, {}, milliseconds(0)));
  EXPECT_EQ(zero.base_backoff, milliseconds(0));
}

TEST(RetryPolicy, DecisionTable) {
  RetryPolicy p = RetryPolicy::from(retry(2, {503, 504}));
  struct Row {
    std::string name;
    RetryPolicy policy;
    RetryQuery q;
    RetryVerdict want;
  };
  auto q = [](AttemptResult r, uint32_t done = 0) {
    RetryQuery x;
    x.result = r;
    x.retries_done = done;
    x.backoff = milliseconds(25);
    return x;
  };
  auto with = [](RetryQuery x, auto edit) {
    edit(x);
    return x;
  };
  const AttemptResult connect{AttemptFailure::kConnectFailure};
  const AttemptResult reset{AttemptFailure::kReset};
  const AttemptResult timeout{AttemptFailure::kTimeout};
  const std::vector<Row> rows = {
      {"no policy: never", RetryPolicy{}, q(connect), RetryVerdict::kNotRetriable},
      {"connect failure", p, q(connect), RetryVerdict::kRetry},
      {"reset before the head", p, q(reset), RetryVerdict::kRetry},
      {"per-try timeout", p, q(timeout), RetryVerdict::kRetry},
      {"a listed code", p, q({AttemptFailure::kStatus, 503}), RetryVerdict::kRetry},
      {"another listed code", p, q({AttemptFailure::kStatus, 504}), RetryVerdict::kRetry},
      {"an unlisted 5xx", p, q({AttemptFailure::kStatus, 500}), RetryVerdict::kNotRetriable},
      {"a success", p, q({AttemptFailure::kStatus, 200}), RetryVerdict::kNotRetriable},
      {"second retry", p, q(connect, 1), RetryVerdict::kRetry},
      {"retries used up", p, q(connect, 2), RetryVerdict::kExhausted},
      {"retries used up, listed code", p, q({AttemptFailure::kStatus, 503}, 2),
       RetryVerdict::kExhausted},
      {"body too large", p, with(q(reset), [](RetryQuery& x) { x.body_replayable = false; }),
       RetryVerdict::kBodyTooLarge},
      {"budget spent", p, with(q(reset), [](RetryQuery& x) { x.budget_allows = false; }),
       RetryVerdict::kBudgetExceeded},
      {"back-off past the request deadline", p,
       with(q(reset), [](RetryQuery& x) { x.time_left = milliseconds(20); }),
       RetryVerdict::kNoTimeLeft},
      {"back-off within the request deadline", p,
       with(q(reset), [](RetryQuery& x) { x.time_left = milliseconds(26); }), RetryVerdict::kRetry},
      {"an unlisted code is not retried even with retries left and no budget", p,
       with(q({AttemptFailure::kStatus, 404}), [](RetryQuery& x) { x.budget_allows = false; }),
       RetryVerdict::kNotRetriable},
  };
  for (const Row& row : rows)
    EXPECT_EQ(toString(decideRetry(row.policy, row.q)), std::string(toString(row.want)))
        << row.name;
}

TEST(RetryPolicy, BackoffIsExponentialJitteredAndNeverBelowTheBase) {
  RetryPolicy p = RetryPolicy::from(retry(5, {}, milliseconds(100)));  // max 1000
  struct Row {
    uint32_t retry_index;
    uint64_t draw;
    milliseconds want;
  };
  // Retry n waits uniformly in [base, min(max, base * 2^(n+1))].
  const Row rows[] = {
      {0, 0, milliseconds(100)},    {0, 100, milliseconds(200)}, {1, 0, milliseconds(100)},
      {1, 300, milliseconds(400)},  {2, 700, milliseconds(800)}, {3, 900, milliseconds(1000)},
      {9, 900, milliseconds(1000)},
  };
  for (const Row& row : rows) {
    ScriptedRandom random({row.draw});
    EXPECT_EQ(retryBackoff(p, row.retry_index, random), row.want)
        << "retry " << row.retry_index << " draw " << row.draw;
  }
  ScriptedRandom none;
  EXPECT_EQ(retryBackoff(RetryPolicy::from(retry(1, {}, milliseconds(0))), 0, none),
            milliseconds(0));
  EXPECT_EQ(none.calls(), 0);
}

TEST(RetryBudget, RetriesStayUnderAShareOfTheActiveRequests) {
  RetryBudget b;  // 20 %, at least 3
  EXPECT_EQ(b.limit(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(b.allowsRetry()) << i;
    b.retryStarted();
  }
  EXPECT_FALSE(b.allowsRetry()) << "the minimum concurrency is used up";
  for (int i = 0; i < 20; ++i) b.requestStarted();
  EXPECT_EQ(b.limit(), 4u) << "20 % of 20 active requests";
  EXPECT_TRUE(b.allowsRetry());
  b.retryStarted();
  EXPECT_FALSE(b.allowsRetry());
  b.retryEnded();
  EXPECT_TRUE(b.allowsRetry());
  for (int i = 0; i < 20; ++i) b.requestEnded();
  b.requestEnded();  // never below zero
  EXPECT_EQ(b.activeRequests(), 0u);
  RetryBudget strict(RetryBudget::Limits{50.0, 0});
  EXPECT_FALSE(strict.allowsRetry()) << "no active requests, no minimum: no retry";
  strict.requestStarted();
  strict.requestStarted();
  EXPECT_TRUE(strict.allowsRetry());
}

TEST(RequestDeadlines, Table) {
  using Clock = RequestDeadlines::Clock;
  const Clock::time_point t0{};
  auto timeouts = [](std::optional<int> request, std::optional<int> backend) {
    RouteTimeouts t;
    if (request) t.request = milliseconds(*request);
    if (backend) t.backend_request = milliseconds(*backend);
    return t;
  };
  using Kind = RequestDeadlines::Kind;
  struct Row {
    std::string name;
    RouteTimeouts t;
    milliseconds attempt_start;
    std::optional<RequestDeadlines::Deadline> want;
  };
  const std::vector<Row> rows = {
      {"none", timeouts({}, {}), milliseconds(0), std::nullopt},
      {"zero disables both", timeouts(0, 0), milliseconds(0), std::nullopt},
      {"request only", timeouts(1000, {}), milliseconds(300),
       RequestDeadlines::Deadline{t0 + milliseconds(1000), Kind::kRequest}},
      {"backend only, from the attempt's start", timeouts({}, 200), milliseconds(300),
       RequestDeadlines::Deadline{t0 + milliseconds(500), Kind::kBackendRequest}},
      {"backend earlier than the request", timeouts(1000, 200), milliseconds(100),
       RequestDeadlines::Deadline{t0 + milliseconds(300), Kind::kBackendRequest}},
      {"a late attempt: the request's deadline comes first", timeouts(1000, 200), milliseconds(900),
       RequestDeadlines::Deadline{t0 + milliseconds(1000), Kind::kRequest}},
      {"request zero, backend set", timeouts(0, 200), milliseconds(0),
       RequestDeadlines::Deadline{t0 + milliseconds(200), Kind::kBackendRequest}},
  };
  for (const Row& row : rows) {
    RequestDeadlines d(row.t, t0);
    EXPECT_EQ(d.forAttempt(t0 + row.attempt_start), row.want) << row.name;
  }
  RequestDeadlines d(timeouts(1000, {}), t0);
  EXPECT_EQ(d.timeLeft(t0 + milliseconds(400)), milliseconds(600));
  EXPECT_EQ(d.timeLeft(t0 + milliseconds(4000)), milliseconds(0));
  EXPECT_FALSE(RequestDeadlines(timeouts({}, 5), t0).timeLeft(t0).has_value());
  EXPECT_STREQ(toString(Kind::kRequest), "response_timeout");
  EXPECT_STREQ(toString(Kind::kBackendRequest), "upstream_per_try_timeout");
}

TEST(BodyReplay, KeepsABoundedCopy) {
  BodyReplay r;
  r.reset(true, 10);
  r.append("hello");
  r.append("world");
  EXPECT_TRUE(r.replayable());
  EXPECT_EQ(r.bytes(), "helloworld");
  r.append("!");
  EXPECT_FALSE(r.replayable()) << "over the bound: not replayable";
  EXPECT_TRUE(r.overflowed());
  EXPECT_TRUE(r.bytes().empty()) << "the copy is dropped, not kept half";
  r.append("x");
  EXPECT_TRUE(r.bytes().empty());
  r.reset(false);
  EXPECT_FALSE(r.replayable()) << "not kept: nothing to replay";
  r.append("x");
  EXPECT_TRUE(r.bytes().empty());
  r.reset(true);
  EXPECT_TRUE(r.replayable()) << "an empty body is replayable";
}

}  // namespace
}  // namespace warren::waypoint
