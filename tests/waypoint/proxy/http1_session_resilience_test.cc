// Http1Session's resilience in process (the fixture of http1_session_test.cc): the route's
// timeouts (504, UT), retries (attempts recorded, URX when they run out, another endpoint after
// a connect failure, the budget, the body bound) and mirrors (a copy reaches the mirror; a dead
// mirror changes nothing), against real warren-echo servers (?delay=, ?failFirst=) and closed
// ports. The lab's path (capture, ztunnels, HBONE) is tests/e2e/test_waypoint_resilience.sh.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "http1_session_fixture.h"
#include "route_edits.h"

namespace warren::waypoint {
namespace {

using std::chrono::milliseconds;

// routes() with its one rule edited.
l7::ServiceRoutes routesWith(const std::function<void(l7::RouteRule&)>& edit) {
  return withFirstRule(routes(), edit);
}

class Http1SessionResilienceTest : public Http1SessionTest {
 protected:
  // The records once `n` requests ended (the record is handed over just after the answer).
  std::vector<RequestRecord> recordsAfter(size_t n) {
    for (int i = 0; i < 500 && records().size() < n; ++i)
      std::this_thread::sleep_for(milliseconds(10));
    auto r = records();
    EXPECT_GE(r.size(), n);
    return r;
  }
  std::string accessLine(size_t i) {
    auto lines = access_log_->last_formatted();
    return i < lines.size() ? lines[i] : "";
  }
};

TEST_F(Http1SessionResilienceTest, AFailingBackendIsRetriedAndTheAttemptsAreLogged) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  useRoutes(routesWith([](l7::RouteRule& r) { retryOn(r, 2, {503}, 5); }));
  int c = connect();
  send(c, "GET /api/x?failFirst=2&failKey=ok HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  Response r = read(c);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["failKeySeen"], 3) << "two failures, then success";
  auto recs = recordsAfter(1);
  EXPECT_EQ(recs[0].upstream_attempts, 3u);
  EXPECT_EQ(recs[0].response_flags.toString(), "-");
  EXPECT_NE(accessLine(0).find(" attempts=3 "), std::string::npos) << accessLine(0);

  // Retries run out: the last upstream answer goes to the client, flagged URX.
  send(c, "GET /api/x?failFirst=9&failKey=never HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
  Response out = read(c);
  EXPECT_EQ(out.status, 503);
  EXPECT_NE(out.body.find("failing request 3 of 9"), std::string::npos) << out.body;
  recs = recordsAfter(2);
  EXPECT_EQ(recs[1].upstream_attempts, 3u);
  EXPECT_EQ(recs[1].response_flags.toString(), "URX");
  EXPECT_FALSE(out.closed) << "a retried exchange keeps the client connection";

  // A status the policy does not list is answered at once.
  send(c, "GET /api/x?failFirst=1&failKey=500&failStatus=500 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(read(c).status, 500);
  EXPECT_EQ(recordsAfter(3)[2].upstream_attempts, 1u);
}

TEST_F(Http1SessionResilienceTest, AConnectFailureIsRetriedOnAnotherEndpoint) {
  auto live = startEcho("127.0.0.3:0");
  RefusingPort dead;
  endpoints({{"echo", dead.address()}, {"echo", live->addresses()[0]}});
  useRoutes(routesWith([](l7::RouteRule& r) { retryOn(r, 1, {}, 1); }));
  // Either endpoint may be drawn first: requests until one started on the dead one.
  int c = connect();
  bool retried = false;
  for (int i = 0; i < 20 && !retried; ++i) {
    send(c, "GET /api/x HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
    Response r = read(c);
    ASSERT_EQ(r.status, 200) << r.body;
    const RequestRecord rec = recordsAfter(static_cast<size_t>(i) + 1).back();
    ASSERT_TRUE(rec.upstream_host);
    EXPECT_EQ(rec.upstream_host->toString(), live->addresses()[0].toString())
        << "the answer came from the live endpoint";
    retried = rec.upstream_attempts == 2;
  }
  EXPECT_TRUE(retried) << "no request was drawn to the dead endpoint first in 20 tries";
}

TEST_F(Http1SessionResilienceTest, TimeoutsAnswer504WithUT) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  struct Row {
    std::string name;
    std::function<void(l7::RouteRule&)> edit;
    std::string flags;
    std::string details;
    uint32_t attempts;
  };
  const std::vector<Row> rows = {
      {"timeouts.request", [](l7::RouteRule& r) { setMillis(r.mutable_request_timeout(), 150); },
       "UT", "response_timeout", 1},
      {"timeouts.backendRequest",
       [](l7::RouteRule& r) { setMillis(r.mutable_backend_request_timeout(), 150); }, "UT",
       "upstream_per_try_timeout", 1},
      {"backendRequest retried, then out of retries",
       [](l7::RouteRule& r) {
         setMillis(r.mutable_backend_request_timeout(), 100);
         retryOn(r, 1, {503}, 1);
       },
       "UT,URX", "upstream_per_try_timeout", 2},
      {"the request deadline cuts the retries short",
       [](l7::RouteRule& r) {
         // Attempts at ~0, ~200 and ~400 ms; the third is cut by the request's 600 ms.
         setMillis(r.mutable_request_timeout(), 600);
         setMillis(r.mutable_backend_request_timeout(), 200);
         retryOn(r, 10, {503}, 1);
       },
       "UT", "response_timeout", 3},
  };
  size_t n = 0;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    useRoutes(routesWith(row.edit));
    int c = connect();
    send(c, "GET /api/slow?delay=3s HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
    Response r = read(c);
    EXPECT_EQ(r.status, 504);
    EXPECT_EQ(r.body, "upstream request timeout\n");
    auto rec = recordsAfter(++n).back();
    EXPECT_EQ(rec.response_flags.toString(), row.flags);
    EXPECT_EQ(rec.response_code_details, row.details);
    EXPECT_EQ(rec.upstream_attempts, row.attempts);
    EXPECT_EQ(rec.response_code, 504);
  }
  auto lines = access_log_->last_formatted();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("response_code=504"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("flags=\"UT\""), std::string::npos) << lines[0];
}

TEST_F(Http1SessionResilienceTest, TheBudgetAndTheBodyBoundStopRetries) {
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  useRoutes(routesWith([](l7::RouteRule& r) { retryOn(r, 3, {503}, 1); }));
  // A body larger than what is kept for replay: answered by the first attempt.
  int c = connect();
  std::string body(BodyReplay::kDefaultLimit + 1, 'b');
  send(c, "POST /api/x?failFirst=1&failKey=big HTTP/1.1\r\nHost: a\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(read(c, "POST").status, 503);
  EXPECT_EQ(recordsAfter(1)[0].upstream_attempts, 1u);
  // A body within the bound is replayed whole.
  std::string small(1000, 's');
  send(c,
       "POST /api/x?failFirst=1&failKey=small HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" +
           small);
  Response ok = read(c, "POST");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(nlohmann::json::parse(ok.body)["bodyBytes"], 1000);
  EXPECT_EQ(recordsAfter(2)[1].upstream_attempts, 2u);
}

TEST_F(Http1SessionResilienceTest, AnEmptyBudgetRefusesRetries) {
  budget_ = RetryBudget(RetryBudget::Limits{0.0, 0});
  auto echo = startEcho();
  backendPort(echo->addresses()[0].port);
  useRoutes(routesWith([](l7::RouteRule& r) { retryOn(r, 3, {503}, 1); }));
  int c = connect();
  send(c, "GET /api/x?failFirst=1&failKey=budget HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(read(c).status, 503);
  auto rec = recordsAfter(1)[0];
  EXPECT_EQ(rec.upstream_attempts, 1u);
  EXPECT_EQ(rec.response_flags.toString(), "-") << "a budget refusal is not URX";
}

TEST_F(Http1SessionResilienceTest, AMirrorGetsACopyAndNeverChangesTheAnswer) {
  auto primary = startEcho();
  auto mirror = startEcho("127.0.0.3:0");
  endpoints({{"echo", primary->addresses()[0]}, {"mirror", mirror->addresses()[0]}});
  auto withMirror = [](const std::string& service) {
    return routesWith([service](l7::RouteRule& r) {
      auto* m = r.add_filters()->mutable_request_mirror();
      m->mutable_backend()->set_service("shop/" + service + ".shop.svc.cluster.local");
      m->mutable_backend()->set_port(80);
    });
  };
  useRoutes(withMirror("mirror"));
  int c = connect();
  send(c, "POST /api/m HTTP/1.1\r\nHost: echo.shop\r\nContent-Length: 5\r\n\r\nhello");
  Response r = read(c, "POST");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["bodyBytes"], 5);
  for (int i = 0; i < 500 && mirror->requestsServed() == 0; ++i)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(mirror->requestsServed(), 1u) << "the mirror got its copy";
  EXPECT_EQ(primary->requestsServed(), 1u);
  EXPECT_EQ(recordsAfter(1)[0].upstream_attempts, 1u) << "a mirror is not an attempt";

  // A mirror that cannot be reached, or is not in the state at all: the answer is the same.
  RefusingPort dead;
  endpoints({{"echo", primary->addresses()[0]}, {"mirror", dead.address()}});
  for (std::string service : {"mirror", "absent"}) {
    useRoutes(withMirror(service));
    send(c, "GET /api/m2 HTTP/1.1\r\nHost: echo.shop\r\n\r\n");
    Response again = read(c);
    EXPECT_EQ(again.status, 200) << service;
    EXPECT_FALSE(again.closed) << service;
  }
}

}  // namespace
}  // namespace warren::waypoint
