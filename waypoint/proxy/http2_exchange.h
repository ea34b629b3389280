// Http2Exchange: one request stream of a client's HTTP/2 (h2c) connection to the waypoint, and
// its response. The same steps as an HTTP/1.1 request (Http1Session):
//
//   HEADERS -> the request model (HttpRequest from the pseudo-headers, checked by the engine)
//   -> normalize :path (path/; gRPC: a redirect becomes 400) -> x-forwarded-*, x-request-id,
//   trace context (request_steps.h) -> RouteTable::route (GRPCRoutes for gRPC requests) ->
//   redirect / direct answer / forward: an endpoint by least request -> a stream on the worker's
//   h2c connection to it (H2Upstreams) -> headers, DATA and trailers both ways -> the record.
//
// Local answers to a gRPC request are gRPC answers: HTTP 200 with content-type
// application/grpc and grpc-status / grpc-message in one HEADERS frame (trailers-only), the
// status from the route decision (UNIMPLEMENTED for no route, UNAVAILABLE for a bad backend or
// no endpoint) or gRPC's HTTP mapping (doc/http-grpc-status-mapping.md), as Envoy's local
// replies to gRPC do. Others get the status with a text/plain body saying why.
//
// Backpressure: bytes from one side are handed to the other's send buffer as far as it takes
// them, and only then consume()d, crediting the sender's window; the rest waits here (at most a
// stream window, as the sender cannot send more uncredited). So a slow reader stops the writer
// on the other side within one HTTP/2 window, in both directions.
//
// Resilience, as on HTTP/1.1 and through the same ForwardResilience: timeouts.request and
// timeouts.backendRequest (504, UT; gRPC: UNAVAILABLE), retries of an attempt that failed
// before the client saw a response head (a status in `codes`, a connect failure, a reset or
// refused stream, an attempt timeout) on a newly chosen endpoint after the back-off, with the
// body received so far sent again (BodyReplay's bound) and the retry budget asked; each
// RequestMirror gets a copy of the whole request on the worker's h2c connections
// (RequestMirrors::sendH2) once the client ended it.
//
// One RequestRecord per stream, handed to env.on_request_done exactly once when the stream
// ends (completed, reset by either side, or the connection gone), with the grpc-status and the
// message counts of a gRPC call.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/grpc/message_counter.h"
#include "common/http2/header.h"
#include "waypoint/proxy/forward_resilience.h"
#include "waypoint/proxy/h2_channel.h"
#include "waypoint/proxy/h2_upstreams.h"
#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/loop_timer.h"

namespace warren::waypoint {

class Http2Exchange final : public std::enable_shared_from_this<Http2Exchange>,
                            public UpstreamStreamEvents {
 public:
  Http2Exchange(SessionEnv& env, H2Upstreams& upstreams, const ConnectionFacts& facts,
                H2Channel& down, http2::StreamId id);
  ~Http2Exchange() override;

  // The client's side of the stream (from Http2Session's callbacks).
  void onRequest(const http2::HeaderList& headers);
  void onData(std::span<const uint8_t> data);
  void onTrailers(const http2::HeaderList& trailers);
  void onEnd();
  void onWritable();
  // The stream is over (last event): code 0 after both ends, else the RST_STREAM code.
  void onClosed(uint32_t code);
  // The client's connection is gone, or the worker stops.
  void abort(const std::string& why);

  // UpstreamStreamEvents: the endpoint's side.
  http2::Body requestBody() override;
  void onUpstreamResponse(int status, const http2::HeaderList& headers) override;
  void onUpstreamData(std::span<const uint8_t> data) override;
  void onUpstreamTrailers(const http2::HeaderList& trailers) override;
  void onUpstreamEnd() override;
  void onUpstreamWritable() override;
  void onUpstreamClosed(uint32_t code, const std::string& why, bool refused) override;

 private:
  enum class Phase { kRouting, kForwarding, kLocal, kDone };

  void route();
  void forward(ForwardAction action);
  void startAttempt();
  void openUpstream();
  // Resilience: retries the request after a failed attempt when the route allows it (false:
  // the caller answers the failure), the deadlines, the mirrors.
  bool retryAfter(AttemptResult result, const std::string& why);
  void onDeadline(RequestDeadlines::Kind kind);
  void sendMirrors();
  void onOpened(Result<std::unique_ptr<H2UpstreamStream>> stream);
  void pushRequest();
  void pushResponse();
  void sendResponseHead(bool more);
  // Answers the request here (status, body or gRPC status), dropping any upstream stream.
  void localReply(int status, const std::string& body, const std::string& location = "",
                  std::optional<int> grpc_status = std::nullopt,
                  const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  void fail(int status, ResponseFlag flag, const std::string& detail, int grpc_status);
  // Resets the upstream stream, crediting what it sent that was not passed on.
  void dropUpstream();
  // Ends the attempt in progress: its stream, its endpoint's count, a connect still pending.
  void endAttempt();
  void finishRecord();

  SessionEnv& env_;
  H2Upstreams& upstreams_;
  const ConnectionFacts& facts_;
  H2Channel& down_;
  http2::StreamId id_;

  Phase phase_ = Phase::kRouting;
  HttpRequest request_;
  bool grpc_ = false;
  bool head_method_ = false;
  RequestRecord record_;
  std::chrono::steady_clock::time_point started_;
  std::shared_ptr<const RouteConfig> routes_;
  std::optional<UpstreamChoice> choice_;
  std::optional<ForwardAction> forward_;
  std::vector<HeaderModifier> response_edits_;  // the route's, applied to the response head
  ForwardResilience resilience_;
  uint64_t attempt_seq_ = 0;  // an open completing for an abandoned attempt is dropped
  bool mirrored_ = false;
  bool counted_ = false;
  bool record_done_ = false;
  std::optional<grpc::MessageCounter> request_messages_, response_messages_;

  // Request (client -> endpoint).
  http2::HeaderList upstream_headers_;  // kept for the one retry of a bodiless request
  bool request_bodiless_ = false;       // the upstream HEADERS ended the request
  bool retried_ = false;
  std::unique_ptr<H2UpstreamStream> up_;
  std::string request_pending_;  // received, not yet taken by the upstream stream (unconsumed)
  std::string resend_;  // a retry: what the client sent before (consumed), sent again first
  std::optional<http2::HeaderList> request_trailers_;
  bool request_ended_ = false;
  bool request_end_sent_ = false;

  // Response (endpoint -> client).
  std::optional<http2::HeaderList> response_head_;  // received, not yet sent (see sendResponseHead)
  int response_status_ = 0;
  bool responded_ = false;        // our HEADERS went to the client
  std::string response_pending_;  // received, not yet taken by the client's stream (unconsumed)
  std::optional<http2::HeaderList> response_trailers_;
  bool response_ended_ = false;
  bool response_end_sent_ = false;
  LoopTimer fault_timer_;  // a TrafficPolicy fault delay before the request goes on
};

}  // namespace warren::waypoint
