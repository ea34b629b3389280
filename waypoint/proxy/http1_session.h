// Http1Session: one HTTP/1.1 client connection inside an HBONE CONNECT stream to a Service
// port the waypoint speaks HTTP on. Requests are served one at a time (keep-alive; pipelined
// requests wait in the input), each through the same steps:
//
//   head -> normalize the target (path/) -> route (RouteTable: forward, redirect, or answer
//   404/500) -> choose an endpoint of the backend Service (least request) -> an upstream
//   HTTP/1.1 connection (a kept-alive one, or a new HBONE tunnel to the endpoint's 15008)
//   -> request head with the route's edits, x-forwarded-for/-proto, x-request-id and trace
//   context (RequestTelemetry::begin) -> body streamed both ways -> response head with the
//   response edits -> onRequestDone(record) (RequestTelemetry::finish, in the worker).
//
// Resilience (the route's, decided in resilience/): timeouts.request bounds the exchange and
// timeouts.backendRequest each attempt (504, flag UT); an attempt that failed before the client
// saw a response head is tried again on a newly chosen endpoint after a jittered back-off when
// the retry policy, the kept request body (BodyReplay), the worker's RetryBudget and the
// deadline allow; a complete request is copied to each sampled RequestMirror (RequestMirrors),
// fire-and-forget. The upstream half (attempts, responses) is http1_session_upstream.cc.
//
// Backpressure both ways: the side that reads stops feeding its parser while the other side's
// send queue is over its high watermark (StreamConduit), so neither end's bytes pile up here.
// Bad HTTP from the client gets the codec's status (400, 413, 431, 501, 505...) and the
// connection closes; bad HTTP from an upstream, or an upstream that fails before answering,
// gets 502/503 with a reason; an upstream failing mid-response cuts the client connection
// (the status is already sent). Nothing throws; nothing crashes the worker.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/http1/parser.h"
#include "common/http1/serializer.h"
#include "common/net/socket_address.h"
#include "mesh/routing/random_source.h"
#include "mesh/state/snapshot_store.h"
#include "waypoint/path/path_normalizer.h"
#include "waypoint/proxy/loop_timer.h"
#include "waypoint/proxy/request_admission.h"
#include "waypoint/proxy/request_mirrors.h"
#include "waypoint/proxy/route_config.h"
#include "waypoint/proxy/stream_conduit.h"
#include "waypoint/proxy/traffic_control.h"
#include "waypoint/proxy/upstreams.h"
#include "waypoint/request/http_request.h"
#include "waypoint/resilience/body_replay.h"
#include "waypoint/resilience/request_deadlines.h"
#include "waypoint/resilience/retry_budget.h"
#include "waypoint/resilience/retry_policy.h"
#include "waypoint/route/route_decision.h"
#include "waypoint/telemetry/request_telemetry.h"

namespace warren::waypoint {

class ForwardResilience;

// One random source for both deciders: route weights and mirrors, and endpoint choice.
class ProxyRandom final : public RouteRandom, public mesh::RandomSource {
 public:
  ProxyRandom();
  uint64_t below(uint64_t bound) override;

 private:
  uint64_t state_;
};

// What retries, timeouts and mirrors did, per worker (the admin's /stats).
struct ResilienceCounters {
  uint64_t retries = 0;              // attempts after the first
  uint64_t retries_exhausted = 0;    // gave up with retries used up (URX)
  uint64_t retries_over_budget = 0;  // a retry the RetryBudget refused
  uint64_t retries_body_too_large = 0;
  uint64_t request_timeouts = 0;  // timeouts.request fired
  uint64_t backend_timeouts = 0;  // timeouts.backendRequest fired
  nlohmann::json toJson() const;
};

// What a worker lends its sessions.
struct SessionEnv {
  uring::EventLoop* loop = nullptr;  // timers (timeouts, back-off); none: no timeouts
  std::function<std::shared_ptr<const RouteConfig>()> routes;
  mesh::SnapshotReader* state = nullptr;
  Upstreams* upstreams = nullptr;
  ProxyRandom* random = nullptr;
  PathNormalizationOptions normalization;
  // Never null: begin() for each request head (x-request-id, trace context).
  RequestTelemetry* telemetry = nullptr;
  // Told of each request exactly once when it ends (the worker's onRequestDone: finish()).
  std::function<void(const RequestRecord&)> on_request_done;
  std::function<const mesh::Workload*(const mesh::StateSnapshot&)> local_workload;
  RetryBudget* retry_budget = nullptr;  // none: retries unbounded by a budget
  RequestMirrors* mirrors = nullptr;    // none: mirrors are skipped
  ResilienceCounters* resilience = nullptr;
  // JWT and L7 authorization between normalization and routing; null: none (tests).
  const RequestAdmission* admission = nullptr;
  // TrafficPolicy local rate limits and faults once a request is routed; null: none (tests).
  TrafficControl* traffic = nullptr;
};

// What the HBONE CONNECT said about the client and where it was going.
struct ConnectionFacts {
  net::SocketAddress client;  // forwarded for=, else the HBONE peer
  // The client: RequestPeer::of(its workload in the state, the HBONE peer identity, client).
  RequestPeer source;
  std::string service_key;         // "<ns>/<hostname>" of the Service dialled
  metrics::ServiceLabels service;  // mesh::serviceLabels of that Service
  net::IpAddress vip;
  uint16_t port = 0;                      // the Service port dialled
  ConnectionInfo connection;              // what authorization reads of the connection
  std::optional<ServiceKey> service_ref;  // the Service dialled, as policies target it
};

class Http1Session : public std::enable_shared_from_this<Http1Session> {
 public:
  using OnClosed = std::function<void(Http1Session*)>;
  Http1Session(SessionEnv& env, ConnectionFacts facts, std::unique_ptr<StreamConduit> down,
               OnClosed on_closed);
  ~Http1Session();
  void start();
  // Ends now (worker stopping).
  void abort(const std::string& why);
  // For the worker's request-header timeout (slowloris): part of a request head is here and
  // the rest is not; how many heads were parsed so far; 408 and close.
  bool awaitingHead() const;
  uint64_t headsParsed() const { return heads_parsed_; }
  void headerTimeout();

 private:
  class DownEvents;
  class UpEvents;
  class DownParserEvents;
  class UpParserEvents;

  // Downstream (client) side.
  void pumpDown();
  http1::Flow onRequestHead(const http1::MessageHead& head);
  http1::Flow onRequestBody(std::string_view data);
  http1::Flow onRequestComplete();
  void onDownInputEnd();
  void onDownDrained();
  void onDownFailed(const Error& e);

  void beginRecord();
  void startRequest();
  void forward(ForwardAction action);
  void startAttempt();
  void connectUpstream();
  void onUpstream(Result<std::unique_ptr<StreamConduit>> up, bool reused);
  bool sendRequestHead();
  void sendMirrors();

  // Resilience (http1_session_upstream.cc).
  // Tries the request again when the policy allows `result`; false: the caller fails it.
  bool retryAfter(AttemptResult result, const std::string& why);
  // The decision alone (flags and counters of a refusal recorded): the back-off, or none.
  std::optional<std::chrono::milliseconds> decideRetryFor(AttemptResult result,
                                                          const std::string& why);
  void retryNow(std::chrono::milliseconds backoff);
  void onDeadline(RequestDeadlines::Kind kind);
  void closeUpstream();

  // Upstream side.
  void pumpUp();
  http1::Flow onResponseHead(const http1::MessageHead& head);
  http1::Flow onResponseBody(std::string_view data);
  http1::Flow onResponseComplete();
  void onUpInputEnd();
  void onUpDrained();
  void onUpFailed(const Error& e);
  void upstreamBroke(int status, ResponseFlag flag, const std::string& detail);

  void localReply(int status, const std::string& body, const std::string& location = "",
                  const std::vector<std::pair<std::string, std::string>>& headers = {});
  void finishExchange();
  void finishRecord();
  void closeDown(const std::string& why);
  void maybeClosed();
  void closed();

  SessionEnv& env_;
  ConnectionFacts facts_;
  std::unique_ptr<StreamConduit> down_;
  std::unique_ptr<DownEvents> down_events_;
  std::unique_ptr<DownParserEvents> down_parser_events_;
  http1::Parser down_parser_;
  http1::Serializer down_out_;
  OnClosed on_closed_;

  // The exchange in progress.
  enum class Phase { kIdle, kHead, kRouting, kForwarding, kLocal, kClosing };
  Phase phase_ = Phase::kIdle;
  bool down_blocked_ = false;  // the downstream parser waits (exchange, or backpressure)
  bool head_ready_ = false;    // a request head was parsed and waits for startRequest
  bool request_done_ = false;
  bool response_started_ = false;
  bool response_done_ = false;
  bool request_keep_alive_ = true;
  bool expect_continue_ = false;
  http1::BodyKind request_body_ = http1::BodyKind::kNone;
  uint64_t request_length_ = 0;
  HttpRequest request_;
  std::string raw_target_;
  RequestRecord record_;
  std::chrono::steady_clock::time_point started_;  // record_'s start, for its duration
  std::shared_ptr<const RouteConfig> routes_;
  std::optional<ForwardAction> forward_;
  std::optional<UpstreamChoice> choice_;

  std::unique_ptr<StreamConduit> up_;
  std::unique_ptr<UpEvents> up_events_;
  std::unique_ptr<UpParserEvents> up_parser_events_;
  std::unique_ptr<http1::Parser> up_parser_;
  http1::Serializer up_out_;
  bool up_blocked_ = false;
  bool up_reused_ = false;
  bool up_retried_ = false;
  bool up_keep_alive_ = true;
  bool head_response_ = false;  // the request was HEAD
  bool http10_ = false;         // the client spoke HTTP/1.0
  bool closed_ = false;
  bool in_pump_down_ = false;
  bool in_pump_up_ = false;
  bool counted_ = false;      // the endpoint's active-request count includes this request
  bool record_done_ = false;  // onRequestDone ran for this request
  uint64_t heads_parsed_ = 0;
  // A failure found inside a parser event, acted on once the parser returned.
  struct Failure {
    int status;
    ResponseFlag flag;
    std::string detail;
  };
  std::optional<Failure> pending_up_failure_;

  // Resilience of the exchange in progress (the same piece Http2Exchange uses).
  std::unique_ptr<ForwardResilience> resilience_;
  bool continue_sent_ = false;  // 100 Continue went to the client
  bool mirrored_ = false;
  // A retriable response head seen inside a parser event: retried after this back-off once
  // the parser returned.
  std::optional<std::chrono::milliseconds> pending_retry_;
  uint64_t attempt_seq_ = 0;  // a connect completing for an abandoned attempt is dropped
  // The attempt waits for a connection (the Service's connection limit): dropped, it leaves
  // the queue.
  std::unique_ptr<UpstreamWait> upstream_wait_;
  LoopTimer fault_timer_;  // a TrafficPolicy fault delay before the request goes on
};

}  // namespace warren::waypoint
