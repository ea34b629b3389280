#include "waypoint/proxy/http2_exchange.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/grpc/status.h"
#include "common/http/http_message.h"
#include "common/http2/request_head.h"
#include "waypoint/proxy/request_steps.h"
#include "waypoint/route/route_filters.h"

namespace warren::waypoint {
namespace {

std::span<const uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Fields HTTP/2 forbids (RFC 9113 §8.2.2): a route filter may have set one; never forwarded.
// `te` is allowed with the value "trailers" only (gRPC sends it).
bool forbiddenInHttp2(std::string_view lower, std::string_view value) {
  if (lower == "te") return value != "trailers";
  return connectionSpecific(lower) || lower == "host";
}

// A header map as HTTP/2 regular fields: names lower-case (filters keep the case written).
void appendFields(http2::HeaderList& out, const HeaderMap& headers) {
  for (const auto& e : headers) {
    std::string name = toLowerAscii(e.name);
    if (forbiddenInHttp2(name, e.value)) continue;
    out.push_back({std::move(name), e.value});
  }
}

std::optional<int> grpcStatusIn(const http2::HeaderList& fields) {
  const std::string* v = http2::findHeader(fields, "grpc-status");
  if (!v) return std::nullopt;
  auto s = grpc::parseStatus(*v);
  return s ? std::optional<int>(static_cast<int>(*s)) : std::optional<int>(2);  // UNKNOWN
}

}  // namespace

Http2Exchange::Http2Exchange(SessionEnv& env, H2Upstreams& upstreams, const ConnectionFacts& facts,
                             H2Channel& down, http2::StreamId id)
    : env_(env), upstreams_(upstreams), facts_(facts), down_(down), id_(id), resilience_(env) {}

Http2Exchange::~Http2Exchange() {
  if (counted_ && choice_) env_.upstreams->end(*choice_);
}

// ---- the client's side -------------------------------------------------------------------------

void Http2Exchange::onRequest(const http2::HeaderList& headers) {
  record_.start_time = std::chrono::system_clock::now();
  started_ = std::chrono::steady_clock::now();
  record_.source = facts_.source;
  record_.service = facts_.service;
  record_.service_port = facts_.port;

  // The engine checked the pseudo-headers already (malformed requests never get here).
  auto head = http2::parseRequestHead(headers);
  request_.protocol = HttpProtocol::kHttp2;
  if (head) {
    request_.method = head->method;
    request_.scheme = head->scheme.empty() ? "http" : head->scheme;
    request_.authority = head->authority;
  }
  for (const auto& h : headers) {
    if (h.name.starts_with(':') || h.name == "host") continue;
    request_.headers.add(h.name, h.value);
  }
  grpc_ = request_.isGrpc();
  head_method_ = request_.method == "HEAD";
  record_.method = request_.method;
  record_.authority = request_.authority;
  record_.path = head ? head->path : "";
  record_.protocol = requestProtocolOf(request_);
  if (auto* ua = request_.headers.first("user-agent")) record_.user_agent = *ua;
  if (grpc_) {
    request_messages_.emplace();
    response_messages_.emplace();
  }
  if (!head) {
    record_.response_flags.add(ResponseFlag::kDownstreamProtocolError);
    localReply(400, "http2 request: " + head.error().message());
    return;
  }
  if (request_.method == "CONNECT") {
    record_.response_flags.add(ResponseFlag::kDownstreamProtocolError);
    localReply(405, "CONNECT is not served inside the waypoint's HTTP/2 front end");
    return;
  }
  auto target = normalizeRequestTarget(head->path, env_.normalization, grpc_);
  if (!target) {
    record_.response_code_details = target.error().reason;
    localReply(target.error().status, target.error().reason, target.error().location);
    return;
  }
  request_.path = target->path;
  request_.query = target->query;
  route();
}

void Http2Exchange::route() {
  routes_ = env_.routes();
  addForwardingHeaders(request_, record_, facts_, env_);
  // JWT and L7 authorization, as Http1Session asks them: 401 / 403 (gRPC: 16 / 7) or go on.
  if (auto r = admitRequest(request_, record_, facts_, env_)) {
    localReply(r->status, r->body, "", std::nullopt, r->headers);
    return;
  }
  RouteDecision decision = decideRoute(*routes_, facts_, request_, *env_.random, record_);
  if (const RedirectAction* r = decision.redirect()) {
    localReply(r->status, "", r->location);
    return;
  }
  if (const DirectResponse* d = decision.direct()) {
    localReply(d->status, recordDirectResponse(*d, record_), "",
               d->grpc_status ? std::optional<int>(d->grpc_status) : std::nullopt);
    return;
  }
  // TrafficPolicy (request_steps.h): a rate limit's 429, a fault's delay and abort.
  TrafficVerdict traffic = applyTrafficPolicy(record_, facts_, env_);
  ForwardAction action = std::move(std::get<ForwardAction>(decision.action));
  if (traffic.delay.count() > 0 && env_.loop) {
    fault_timer_.setLoop(env_.loop);
    fault_timer_.arm(traffic.delay, [weak = weak_from_this(), action = std::move(action),
                                     reply = std::move(traffic.reply)]() mutable {
      auto self = weak.lock();
      if (!self || self->phase_ != Phase::kRouting) return;
      if (reply) {
        self->localReply(reply->status, reply->body, "", std::nullopt, reply->headers);
      } else {
        self->forward(std::move(action));
      }
    });
    return;
  }
  if (traffic.reply) {
    localReply(traffic.reply->status, traffic.reply->body, "", std::nullopt,
               traffic.reply->headers);
    return;
  }
  forward(std::move(action));
}

void Http2Exchange::forward(ForwardAction moved) {
  forward_ = std::move(moved);
  const ForwardAction& action = *forward_;
  const HttpRequest& r = action.request;
  http2::HeaderList headers = {{":method", r.method},
                               {":scheme", r.scheme},
                               {":authority", r.authority},
                               {":path", r.pathAndQuery()}};
  appendFields(headers, r.headers);
  // The response edits travel with the exchange (response_head_ is built from them).
  response_edits_ = action.response_header_edits;
  upstream_headers_ = headers;
  resilience_.begin(action, [weak = weak_from_this()](RequestDeadlines::Kind kind) {
    if (auto self = weak.lock()) self->onDeadline(kind);
  });
  startAttempt();
}

void Http2Exchange::startAttempt() {
  if (phase_ != Phase::kRouting || !forward_) return;
  // A retry prefers an endpoint not tried yet (Envoy's previous_hosts, as Istio configures).
  auto choice =
      chooseEndpoint(env_, *routes_, facts_, forward_->backend, record_, &resilience_.tried());
  if (!choice) {
    fail(503, choice.error().flag, choice.error().detail, 14 /* UNAVAILABLE */);
    return;
  }
  choice_ = std::move(*choice);  // counted by chooseEndpoint
  counted_ = true;
  ++record_.upstream_attempts;
  resilience_.attemptStarted(choice_->endpoint_uid);
  openUpstream();
}

void Http2Exchange::openUpstream() {
  upstreams_.open(
      *choice_, facts_.client, upstream_headers_, weak_from_this(),
      [weak = weak_from_this(), seq = ++attempt_seq_](Result<std::unique_ptr<H2UpstreamStream>> s) {
        auto self = weak.lock();
        if (self && seq == self->attempt_seq_) self->onOpened(std::move(s));
      });
}

http2::Body Http2Exchange::requestBody() {
  // Asked as the upstream stream opens: by then the client's END_STREAM has usually arrived
  // with its HEADERS when there is no body (the open waits at least one loop turn).
  if (request_ended_ && request_pending_.empty() && !request_trailers_ &&
      record_.request_body_bytes == 0) {
    request_end_sent_ = true;
    request_bodiless_ = true;
    return http2::Body::kNone;
  }
  return http2::Body::kFollows;
}

void Http2Exchange::onOpened(Result<std::unique_ptr<H2UpstreamStream>> stream) {
  if (phase_ != Phase::kRouting) return;  // answered or gone meanwhile: the stream resets
  if (!stream) {
    std::string why = "upstream connect error: " + stream.error().message();
    if (choice_) env_.upstreams->report(*choice_, {AttemptOutcome::Kind::kConnectFailure});
    if (retryAfter({AttemptFailure::kConnectFailure}, why)) return;
    fail(503, ResponseFlag::kUpstreamConnectionFailure, why, 14);
    return;
  }
  up_ = std::move(*stream);
  phase_ = Phase::kForwarding;
  pushRequest();
}

void Http2Exchange::onData(std::span<const uint8_t> data) {
  record_.request_body_bytes += data.size();
  if (request_messages_) request_messages_->feed(data);
  resilience_.replay().append(
      std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  if (phase_ == Phase::kLocal || phase_ == Phase::kDone) {
    down_.session().consume(id_, data.size());  // answered already: dropped
    down_.flush();
    return;
  }
  request_pending_.append(reinterpret_cast<const char*>(data.data()), data.size());
  pushRequest();
}

void Http2Exchange::onTrailers(const http2::HeaderList& trailers) {
  http2::HeaderList t;
  for (const auto& h : trailers)
    if (!forbiddenInHttp2(h.name, h.value)) t.push_back(h);
  if (!t.empty()) request_trailers_ = std::move(t);
}

void Http2Exchange::onEnd() {
  request_ended_ = true;
  // The whole request is known: its copies go now (fire-and-forget).
  if (forward_ && !mirrored_ && (phase_ == Phase::kRouting || phase_ == Phase::kForwarding))
    sendMirrors();
  pushRequest();
}

void Http2Exchange::pushRequest() {
  if (phase_ != Phase::kForwarding || !up_) return;
  // A retry first sends again what the client had sent (already credited to it).
  while (!resend_.empty()) {
    size_t n = up_->write(bytesOf(resend_));
    if (n == 0) return;  // onUpstreamWritable resumes
    resend_.erase(0, n);
  }
  size_t taken = 0;
  while (taken < request_pending_.size()) {
    size_t n = up_->write(bytesOf(std::string_view(request_pending_).substr(taken)));
    if (n == 0) break;  // onUpstreamWritable resumes
    taken += n;
  }
  if (taken > 0) {
    request_pending_.erase(0, taken);
    down_.session().consume(id_, taken);  // credit the client only for what moved on
    down_.flush();
  }
  if (request_pending_.empty() && request_ended_ && !request_end_sent_) {
    request_end_sent_ = true;
    if (request_trailers_) {
      up_->endWithTrailers(*request_trailers_);
    } else {
      up_->end();
    }
  }
}

void Http2Exchange::onWritable() { pushResponse(); }

// ---- the endpoint's side -----------------------------------------------------------------------

void Http2Exchange::onUpstreamResponse(int status, const http2::HeaderList& headers) {
  if (phase_ != Phase::kForwarding) return;
  if (choice_) env_.upstreams->report(*choice_, AttemptOutcome::answered(status));
  // Decided before the client sees anything: a status the route retries ends this attempt.
  if (resilience_.policy().retriableStatus(status) &&
      retryAfter({AttemptFailure::kStatus, status}, fmt::format("upstream answered {}", status)))
    return;
  response_status_ = status;
  record_.response_code = status;
  record_.response_code_details = "via_upstream";
  HeaderMap fields;
  for (const auto& h : headers)
    if (!h.name.starts_with(':')) fields.add(h.name, h.value);
  for (const auto& edit : response_edits_) applyHeaderModifier(fields, edit);
  http2::HeaderList out;
  appendFields(out, fields);
  if (grpc_) {
    if (auto s = grpcStatusIn(out)) record_.grpc_status = *s;  // trailers-only response
  }
  response_head_ = std::move(out);
  // Whether DATA follows is known only when the frame's END_STREAM has been seen, in this same
  // dispatch: a trailers-only gRPC answer (or a 204) must stay one HEADERS frame. So the head
  // leaves with the first DATA, the trailers or the end, or else once this dispatch is over.
  std::weak_ptr<Http2Exchange> weak = weak_from_this();
  upstreams_.loop().post([weak] {
    if (auto self = weak.lock(); self && self->response_head_) self->sendResponseHead(true);
  });
}

void Http2Exchange::sendResponseHead(bool more) {
  if (!response_head_ || phase_ != Phase::kForwarding) return;
  http2::HeaderList head = std::move(*response_head_);
  response_head_.reset();
  responded_ = true;
  if (auto s = down_.session().respond(id_, response_status_, head,
                                       more ? http2::Body::kFollows : http2::Body::kNone);
      !s) {
    // A field HTTP/2 cannot carry: the client's stream is reset, the endpoint's too.
    record_.response_flags.add(ResponseFlag::kUpstreamProtocolError);
    record_.response_code_details = "upstream response head: " + s.error().message();
    (void)down_.session().resetStream(id_, http2::kInternalError);
    dropUpstream();
    phase_ = Phase::kDone;
  }
  if (!more) response_end_sent_ = true;
  down_.flush();
}

void Http2Exchange::onUpstreamData(std::span<const uint8_t> data) {
  if (phase_ != Phase::kForwarding) {
    if (up_) up_->consume(data.size());
    return;
  }
  record_.response_body_bytes += data.size();
  if (response_messages_) response_messages_->feed(data);
  sendResponseHead(true);
  response_pending_.append(reinterpret_cast<const char*>(data.data()), data.size());
  pushResponse();
}

void Http2Exchange::onUpstreamTrailers(const http2::HeaderList& trailers) {
  http2::HeaderList t;
  for (const auto& h : trailers)
    if (!forbiddenInHttp2(h.name, h.value)) t.push_back(h);
  if (grpc_) {
    if (auto s = grpcStatusIn(t)) record_.grpc_status = *s;
  }
  if (!t.empty()) response_trailers_ = std::move(t);
}

void Http2Exchange::onUpstreamEnd() {
  if (phase_ != Phase::kForwarding) return;
  response_ended_ = true;
  // Nothing but the head (and maybe trailers) came: one HEADERS frame when there are no trailers.
  if (response_head_) sendResponseHead(response_trailers_.has_value());
  pushResponse();
}

void Http2Exchange::pushResponse() {
  if (phase_ != Phase::kForwarding || !responded_) return;
  size_t taken = 0;
  while (taken < response_pending_.size()) {
    auto n =
        down_.session().writeData(id_, bytesOf(std::string_view(response_pending_).substr(taken)));
    if (!n || *n == 0) break;  // onWritable resumes
    taken += *n;
  }
  if (taken > 0) {
    response_pending_.erase(0, taken);
    if (up_) up_->consume(taken);
  }
  if (response_pending_.empty() && response_ended_ && !response_end_sent_) {
    response_end_sent_ = true;
    if (response_trailers_) {
      (void)down_.session().sendTrailers(id_, *response_trailers_);
    } else {
      (void)down_.session().closeWrite(id_);
    }
  }
  down_.flush();
}

void Http2Exchange::onUpstreamWritable() { pushRequest(); }

void Http2Exchange::onUpstreamClosed(uint32_t code, const std::string& why, bool refused) {
  if (phase_ != Phase::kForwarding || code == http2::kNoError) return;
  if (!responded_ && !response_head_ && !retried_ && request_bodiless_ &&
      (refused || code == http2::kConnectError)) {
    // Nothing reached the endpoint's application (a refused stream) or the connection died
    // before any answer (a pooled connection the endpoint closed as we used it: the race
    // Http1Session retries too): a request without a body is sent once more, on a new stream.
    retried_ = true;
    up_.reset();
    phase_ = Phase::kRouting;
    openUpstream();
    return;
  }
  if (!responded_) {  // nothing went to the client yet (a head held back is dropped)
    if (!response_head_ && choice_)
      env_.upstreams->report(*choice_, {refused ? AttemptOutcome::Kind::kConnectFailure
                                                : AttemptOutcome::Kind::kReset});
    if (!response_head_ &&
        retryAfter({refused ? AttemptFailure::kConnectFailure : AttemptFailure::kReset},
                   "upstream: " + why))
      return;
    fail(503,
         refused                        ? ResponseFlag::kUpstreamConnectionFailure
         : code == http2::kConnectError ? ResponseFlag::kUpstreamConnectionTermination
                                        : ResponseFlag::kUpstreamRemoteReset,
         "upstream: " + why, 14);
    return;
  }
  if (response_end_sent_) return;
  // The status is already with the client: resetting its stream is the only signal left.
  record_.response_flags.add(code == http2::kConnectError
                                 ? ResponseFlag::kUpstreamConnectionTermination
                                 : ResponseFlag::kUpstreamRemoteReset);
  record_.response_code_details = "upstream failed mid-response: " + why;
  phase_ = Phase::kDone;
  dropUpstream();
  (void)down_.session().resetStream(id_, http2::kInternalError);
  down_.flush();
}

// ---- resilience --------------------------------------------------------------------------------

bool Http2Exchange::retryAfter(AttemptResult result, const std::string& why) {
  auto backoff = resilience_.decide(result, why, record_, request_.method + " " + request_.path);
  if (!backoff) return false;
  endAttempt();
  response_head_.reset();
  phase_ = Phase::kRouting;
  // What the client sent and was credited for goes again; the end too, once it came.
  const std::string& all = resilience_.replay().bytes();
  resend_ = all.substr(0, all.size() - request_pending_.size());
  request_end_sent_ = false;
  request_bodiless_ = false;
  resilience_.retryAfter(*backoff, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->startAttempt();
  });
  return true;
}

void Http2Exchange::onDeadline(RequestDeadlines::Kind kind) {
  if (record_done_ || (phase_ != Phase::kRouting && phase_ != Phase::kForwarding))
    return;                         // answered (or gone) already
  resilience_.deadlineFired(kind);  // counted; a retry below arms its own back-off
  const std::string detail = toString(kind);
  if (!responded_ && !response_head_ && counted_ && choice_)  // an attempt awaited its answer
    env_.upstreams->report(*choice_, {AttemptOutcome::Kind::kTimeout});
  if (kind == RequestDeadlines::Kind::kBackendRequest && !responded_ && !response_head_ &&
      retryAfter({AttemptFailure::kTimeout}, detail))
    return;
  endAttempt();
  record_.response_flags.add(ResponseFlag::kUpstreamRequestTimeout);
  record_.response_code_details = detail;
  // Not answered yet: 504 (gRPC: UNAVAILABLE, gRPC's mapping of 504). Answered: the client's
  // stream is reset, the only signal left that the body is cut short.
  localReply(504, "upstream request timeout");
}

void Http2Exchange::sendMirrors() {
  mirrored_ = true;
  if (forward_->mirrors.empty() || !env_.mirrors) return;
  if (!resilience_.replay().replayable()) {
    // The body outgrew what is kept: no copy (Envoy drops a shadow over its buffer limit).
    for (size_t i = 0; i < forward_->mirrors.size(); ++i) env_.mirrors->skipped();
    return;
  }
  for (const UpstreamChoice& choice : mirrorEndpoints(env_, *routes_, facts_, forward_->mirrors))
    env_.mirrors->sendH2(upstreams_, choice, facts_.client, upstream_headers_,
                         resilience_.replay().bytes(), request_trailers_,
                         resilience_.mirrorLimit());
}

void Http2Exchange::endAttempt() {
  dropUpstream();
  ++attempt_seq_;  // an open still pending for this attempt is dropped
  if (counted_ && choice_) env_.upstreams->end(*choice_);
  counted_ = false;
}

// ---- answers and endings -----------------------------------------------------------------------

void Http2Exchange::fail(int status, ResponseFlag flag, const std::string& detail,
                         int grpc_status) {
  record_.response_flags.add(flag);
  record_.response_code_details = detail;
  localReply(status, detail, "", grpc_status);
}

void Http2Exchange::dropUpstream() {
  if (!up_) return;
  // Bytes received and never passed on still count against the connection's window: credit
  // them before the stream goes (common/http2 README, "consume everything").
  if (!response_pending_.empty()) up_->consume(response_pending_.size());
  response_pending_.clear();
  up_->reset();
  up_.reset();
}

void Http2Exchange::localReply(int status, const std::string& body, const std::string& location,
                               std::optional<int> grpc_status,
                               const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  phase_ = Phase::kLocal;
  response_head_.reset();
  dropUpstream();
  // What the client sent and we hold is dropped: credit it back.
  if (!request_pending_.empty()) {
    down_.session().consume(id_, request_pending_.size());
    request_pending_.clear();
  }
  if (responded_) {
    (void)down_.session().resetStream(id_, http2::kInternalError);
    down_.flush();
    return;
  }
  responded_ = true;
  response_end_sent_ = true;
  http2::HeaderList fields;
  if (!record_.request_id.empty()) fields.push_back({"x-request-id", record_.request_id});
  for (const auto& [name, value] : extra_headers) fields.push_back({name, value});
  Status s;
  if (grpc_) {
    // gRPC clients read the status from grpc-status, not :status (PROTOCOL-HTTP2).
    int code = grpc_status.value_or(static_cast<int>(grpc::statusFromHttp(status)));
    record_.grpc_status = code;
    record_.response_code = 200;
    fields.insert(fields.begin(), {{"content-type", "application/grpc"},
                                   {"grpc-status", std::to_string(code)},
                                   {"grpc-message", grpc::encodeMessage(body)}});
    s = down_.session().respond(id_, 200, fields, http2::Body::kNone);
  } else {
    record_.response_code = status;
    if (!location.empty()) fields.push_back({"location", location});
    std::string text = body.empty() ? body : body + "\n";
    if (!text.empty()) fields.push_back({"content-type", "text/plain"});
    fields.push_back({"content-length", std::to_string(text.size())});
    bool with_body = !text.empty() && !head_method_;
    s = down_.session().respond(id_, status, fields,
                                with_body ? http2::Body::kFollows : http2::Body::kNone);
    if (s && with_body) {
      auto n = down_.session().writeData(id_, bytesOf(text));  // far below the send buffer
      if (n) record_.response_body_bytes += *n;
      s = down_.session().closeWrite(id_);
    }
  }
  if (!s) {
    spdlog::warn("waypoint: HTTP/2 local reply {}: {}", status, s.error().message());
    (void)down_.session().resetStream(id_, http2::kInternalError);
  }
  down_.flush();
}

void Http2Exchange::onClosed(uint32_t code) {
  if (code != http2::kNoError && !response_end_sent_) {
    record_.response_flags.add(ResponseFlag::kDownstreamConnectionTermination);
    if (record_.response_code_details.empty() || phase_ == Phase::kForwarding)
      record_.response_code_details = fmt::format("client reset the stream (code {})", code);
  }
  phase_ = Phase::kDone;
  dropUpstream();
  if (!request_pending_.empty()) down_.session().consume(id_, request_pending_.size());
  request_pending_.clear();
  finishRecord();
}

void Http2Exchange::abort(const std::string& why) {
  if (record_done_) return;
  if (!response_end_sent_) {
    record_.response_flags.add(ResponseFlag::kDownstreamConnectionTermination);
    record_.response_code_details = why;
  }
  phase_ = Phase::kDone;
  dropUpstream();
  finishRecord();
}

void Http2Exchange::finishRecord() {
  if (record_done_) return;
  record_done_ = true;
  record_.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started_);
  if (request_messages_) record_.grpc_request_messages = request_messages_->messages();
  if (response_messages_) record_.grpc_response_messages = response_messages_->messages();
  if (counted_ && choice_) env_.upstreams->end(*choice_);
  counted_ = false;
  resilience_.end();
  if (env_.on_request_done) env_.on_request_done(record_);
}

}  // namespace warren::waypoint
