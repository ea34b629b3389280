// Http1Session, the upstream half: the attempts of a forwarded request (endpoint choice, the
// upstream connection, the request head and replayed body), its response streamed back, and the
// resilience around them: deadlines, retries and mirrors (see http1_session.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "common/http/http_message.h"
#include "waypoint/proxy/forward_resilience.h"
#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/http1_session_internal.h"
#include "waypoint/proxy/request_steps.h"
#include "waypoint/route/route_filters.h"

namespace warren::waypoint {
namespace {

// The upstream request's fields: Host first, then the request's (already filtered) headers.
std::vector<http1::HeaderField> upstreamFields(const HttpRequest& r) {
  std::vector<http1::HeaderField> fields;
  fields.reserve(r.headers.size() + 2);
  fields.push_back({"host", r.authority});
  for (const auto& e : r.headers) fields.push_back({e.name, e.value});
  return fields;
}

}  // namespace

nlohmann::json ResilienceCounters::toJson() const {
  return {{"retries", retries},
          {"retries_exhausted", retries_exhausted},
          {"retries_over_budget", retries_over_budget},
          {"retries_body_too_large", retries_body_too_large},
          {"request_timeouts", request_timeouts},
          {"backend_timeouts", backend_timeouts}};
}

// ---- the forwarded request -----------------------------------------------------------------

void Http1Session::forward(ForwardAction action) {
  forward_ = std::move(action);
  resilience_->begin(*forward_, [weak = weak_from_this()](RequestDeadlines::Kind kind) {
    if (auto self = weak.lock()) self->onDeadline(kind);
  });
  startAttempt();
}

void Http1Session::startAttempt() {
  if (closed_ || phase_ != Phase::kRouting || !forward_) return;
  // A retry prefers an endpoint not tried yet (Envoy's previous_hosts, as Istio configures).
  auto choice =
      chooseEndpoint(env_, *routes_, facts_, forward_->backend, record_, &resilience_->tried());
  if (!choice) {
    record_.response_flags.add(choice.error().flag);
    record_.response_code_details = choice.error().detail;
    localReply(503, choice.error().detail + "\n");
    return;
  }
  choice_ = std::move(*choice);  // counted by chooseEndpoint; the record names the destination
  counted_ = true;
  ++record_.upstream_attempts;
  resilience_->attemptStarted(choice_->endpoint_uid);
  connectUpstream();
}

void Http1Session::connectUpstream() {
  std::weak_ptr<Http1Session> weak = shared_from_this();
  auto wait = env_.upstreams->connect(
      *choice_, facts_.client,
      [weak, seq = ++attempt_seq_](Result<std::unique_ptr<StreamConduit>> up, bool reused) {
        auto self = weak.lock();
        if (!self || seq != self->attempt_seq_) return;  // the conduit (if any) closes
        self->onUpstream(std::move(up), reused);
      },
      /*allow_idle=*/!up_retried_);
  if (!wait) {
    // DestinationRule http1MaxPendingRequests: the queue for a connection is full.
    record_.response_flags.add(ResponseFlag::kUpstreamOverflow);
    record_.response_code_details = wait.error().message();
    localReply(503, wait.error().message() + "\n");
    pumpDown();  // (a no-op when called from inside it)
    return;
  }
  upstream_wait_ = std::move(*wait);
}

void Http1Session::onUpstream(Result<std::unique_ptr<StreamConduit>> up, bool reused) {
  upstream_wait_.reset();
  if (closed_ || phase_ != Phase::kRouting) return;
  if (!up) {
    env_.upstreams->report(*choice_, {AttemptOutcome::Kind::kConnectFailure});
    if (retryAfter({AttemptFailure::kConnectFailure}, up.error().message())) return;
    record_.response_flags.add(ResponseFlag::kUpstreamConnectionFailure);
    record_.response_code_details = up.error().message();
    localReply(503, "upstream connect error: " + up.error().message() + "\n");
    pumpDown();
    return;
  }
  up_ = std::move(*up);
  up_->setOwner(up_events_.get());
  up_parser_ = std::make_unique<http1::Parser>(http1::Role::kResponse, *up_parser_events_);
  up_out_ = http1::Serializer{};
  up_reused_ = reused;
  up_keep_alive_ = true;
  phase_ = Phase::kForwarding;
  if (!sendRequestHead()) {
    pumpDown();
    return;
  }
  // Another attempt: what the client already sent of the body goes again (BodyReplay), and
  // the end when the client had finished.
  std::string out;
  const std::string& replayed = resilience_->replay().bytes();
  if (!replayed.empty()) (void)up_out_.body(out, replayed);
  if (request_done_) (void)up_out_.end(out);
  if (!out.empty()) up_->send(out);
  up_->wantInput(true);
  if (expect_continue_ && !continue_sent_) {
    down_->send(http1::Serializer::kContinue);
    continue_sent_ = true;
  }
  down_blocked_ = request_done_;  // a finished request waits for its answer
  pumpDown();
}

bool Http1Session::sendRequestHead() {
  const HttpRequest& r = forward_->request;
  std::vector<http1::HeaderField> fields = upstreamFields(r);
  http1::BodyFraming framing =
      request_body_ == http1::BodyKind::kLength ? http1::BodyFraming::contentLength(request_length_)
      : request_body_ == http1::BodyKind::kChunked ? http1::BodyFraming::chunked()
                                                   : http1::BodyFraming::none();
  std::string target = r.pathAndQuery();
  std::string out;
  if (auto s = up_out_.requestHead(out, r.method, target, fields, framing); !s) {
    // A header a filter set (or the client sent) that HTTP/1.1 cannot carry.
    up_->close();
    up_.reset();
    record_.response_code_details = "request head: " + s.error().message();
    localReply(500, record_.response_code_details + "\n");
    return false;
  }
  up_parser_->expectResponse(r.method);
  up_->send(out);
  return true;
}

// ---- upstream ------------------------------------------------------------------------------

void Http1Session::pumpUp() {
  if (in_pump_up_ || closed_ || !up_) return;
  in_pump_up_ = true;
  // What this parse answers the client (head, body, end) leaves as one write.
  StreamConduit* corked = down_.get();
  if (corked) corked->cork();
  while (up_ && !up_blocked_ && !response_done_ && !pending_up_failure_ && !pending_retry_) {
    std::string& in = up_->input();
    auto used = up_parser_->feed(in);
    if (!used) {
      pending_up_failure_ = {502, ResponseFlag::kUpstreamProtocolError,
                             "upstream sent bad HTTP: " + used.error().message()};
      break;
    }
    in.erase(0, *used);
    if (*used == 0) break;
  }
  if (corked && corked == down_.get()) corked->uncork();
  in_pump_up_ = false;
  if (pending_retry_) {
    auto backoff = *pending_retry_;
    pending_retry_.reset();
    retryNow(backoff);
    return;
  }
  if (pending_up_failure_) {
    auto f = *pending_up_failure_;
    pending_up_failure_.reset();
    upstreamBroke(f.status, f.flag, f.detail);
  } else if (up_ && !up_blocked_ && !response_done_ && up_->inputEnded() && up_->input().empty()) {
    onUpInputEnd();  // the end arrived while the input was still being parsed
    return;
  }
  pumpDown();  // finishes the exchange when both halves are done
}

http1::Flow Http1Session::onResponseHead(const http1::MessageHead& head) {
  if (head.isInterim()) return http1::Flow::kContinue;  // 100 Continue was ours to send
  if (choice_) env_.upstreams->report(*choice_, AttemptOutcome::answered(head.status));
  if (resilience_->policy().retriableStatus(head.status)) {
    // Decided now, before the client sees anything; the connection is dropped (and the next
    // attempt started) once the parser returned.
    if (auto backoff = decideRetryFor({AttemptFailure::kStatus, head.status},
                                      fmt::format("upstream answered {}", head.status))) {
      pending_retry_ = *backoff;
      return http1::Flow::kPause;
    }
  }
  response_started_ = true;
  up_keep_alive_ = head.keep_alive;
  record_.response_code = head.status;
  record_.response_code_details = "via_upstream";
  HeaderMap headers;
  headers.reserve(head.headers.size() + 1);
  for (const auto& f : head.headers) {
    std::string name = toLowerAscii(f.name);
    if (session_internal::hopByHop(name)) continue;
    headers.addLowered(std::move(name), f.value);
  }
  for (const auto& edit : forward_->response_header_edits) applyHeaderModifier(headers, edit);
  if (!request_keep_alive_) headers.set("connection", "close");
  std::vector<http1::HeaderField> fields;
  fields.reserve(headers.size());
  for (const auto& e : headers) fields.push_back({e.name, e.value});
  http1::BodyFraming framing = http1::BodyFraming::none();
  if (head_response_) {
    uint64_t n = 0;
    if (auto cl = head.header("content-length")) {
      std::from_chars(cl->data(), cl->data() + cl->size(), n);
      framing = http1::BodyFraming::headResponse(n);
    }
  } else if (head.body == http1::BodyKind::kLength) {
    framing = http1::BodyFraming::contentLength(head.content_length);
  } else if (head.body == http1::BodyKind::kChunked || head.body == http1::BodyKind::kUntilClose) {
    if (http10_) {
      // An HTTP/1.0 client knows no chunked coding: the body ends with the connection.
      framing = http1::BodyFraming::untilClose();
      request_keep_alive_ = false;
    } else {
      framing = http1::BodyFraming::chunked();
    }
  }
  std::string out;
  if (auto s = down_out_.responseHead(out, head.status, head.reason, fields, framing); !s) {
    response_started_ = false;
    pending_up_failure_ = {502, ResponseFlag::kUpstreamProtocolError,
                           "upstream response head: " + s.error().message()};
    return http1::Flow::kPause;
  }
  down_->send(out);
  return http1::Flow::kContinue;
}

http1::Flow Http1Session::onResponseBody(std::string_view data) {
  record_.response_body_bytes += data.size();
  std::string out;
  if (auto s = down_out_.body(out, data); !s) {
    pending_up_failure_ = {502, ResponseFlag::kUpstreamProtocolError,
                           "upstream response body: " + s.error().message()};
    return http1::Flow::kPause;
  }
  down_->send(out);
  if (down_->overHighWater()) {
    up_blocked_ = true;  // onDownDrained resumes
    return http1::Flow::kPause;
  }
  return http1::Flow::kContinue;
}

http1::Flow Http1Session::onResponseComplete() {
  std::string out;
  if (auto s = down_out_.end(out); !s) {
    pending_up_failure_ = {502, ResponseFlag::kUpstreamProtocolError,
                           "upstream response end: " + s.error().message()};
    return http1::Flow::kPause;
  }
  down_->send(out);
  response_done_ = true;
  if (!request_done_) {
    // Answered before the request ended: the rest of the request is read and dropped, and
    // the connection closes after (the upstream cannot take another request on it).
    up_keep_alive_ = false;
    request_keep_alive_ = false;
    phase_ = Phase::kLocal;
    down_blocked_ = false;
  }
  return http1::Flow::kPause;
}

void Http1Session::onUpInputEnd() {
  if (closed_ || !up_) return;
  if (up_blocked_ || !up_->input().empty()) return;  // pumpUp comes back here when done
  up_keep_alive_ = false;
  if (!response_done_) {
    // Completes a response delimited by the close; anything else is an answer cut short.
    auto done = up_parser_->finish();
    if (!response_done_) {
      if (!response_started_ && up_reused_ && !up_retried_ &&
          request_body_ == http1::BodyKind::kNone) {
        // A kept-alive connection the server closed as we reused it: nothing was answered,
        // the request had no body; send it again on a fresh tunnel (Envoy retries this race).
        up_retried_ = true;
        up_->close();
        up_.reset();
        phase_ = Phase::kRouting;
        connectUpstream();  // a new tunnel (allow_idle is off once up_retried_)
        return;
      }
      std::string why = done ? std::string("upstream closed the connection before answering")
                             : "upstream closed the connection: " + done.error().message();
      if (!response_started_ && choice_)
        env_.upstreams->report(*choice_, {AttemptOutcome::Kind::kReset});
      if (!response_started_ && retryAfter({AttemptFailure::kReset}, why)) return;
      upstreamBroke(response_started_ ? 502 : 503, ResponseFlag::kUpstreamConnectionTermination,
                    why);
      pumpDown();
      return;
    }
  }
  pumpDown();
}

void Http1Session::onUpDrained() {
  if (closed_) return;
  if (down_blocked_ && phase_ == Phase::kForwarding && !request_done_ && up_ &&
      !up_->overHighWater()) {
    down_blocked_ = false;
    pumpDown();
  }
}

void Http1Session::onUpFailed(const Error& e) {
  if (closed_) return;
  std::string why = "upstream connection: " + e.message();
  if (!response_started_ && choice_)
    env_.upstreams->report(*choice_, {AttemptOutcome::Kind::kReset});
  if (!response_started_ && retryAfter({AttemptFailure::kReset}, why)) return;
  upstreamBroke(response_started_ ? 502 : 503, ResponseFlag::kUpstreamConnectionTermination, why);
  pumpDown();
}

void Http1Session::upstreamBroke(int status, ResponseFlag flag, const std::string& detail) {
  if (up_) {
    up_->close();
    up_.reset();
  }
  record_.response_flags.add(flag);
  record_.response_code_details = detail;
  if (!response_started_) {
    localReply(status, detail + "\n");
    return;
  }
  // The status line is already with the client: ending the connection before the body's end
  // is the only signal (what was sent still arrives; the framing shows it is short).
  request_keep_alive_ = false;
  finishRecord();
  closeDown("upstream failed mid-response: " + detail);
}

// ---- resilience ----------------------------------------------------------------------------

void Http1Session::onDeadline(RequestDeadlines::Kind kind) {
  if (closed_ || record_done_ || (phase_ != Phase::kRouting && phase_ != Phase::kForwarding))
    return;                          // answered (or gone) already
  resilience_->deadlineFired(kind);  // counted; a retry below arms its own back-off
  const std::string detail = toString(kind);
  if (!response_started_ && counted_ && choice_)  // an attempt was waiting for its answer
    env_.upstreams->report(*choice_, {AttemptOutcome::Kind::kTimeout});
  if (kind == RequestDeadlines::Kind::kBackendRequest && !response_started_ &&
      retryAfter({AttemptFailure::kTimeout}, detail))
    return;
  if (!response_started_) {
    closeUpstream();
    record_.response_flags.add(ResponseFlag::kUpstreamRequestTimeout);
    record_.response_code_details = detail;
    localReply(504, "upstream request timeout\n");
    pumpDown();
    return;
  }
  // The head is with the client: only the connection's end can say the body is cut short.
  upstreamBroke(504, ResponseFlag::kUpstreamRequestTimeout, detail);
  pumpDown();
}

std::optional<std::chrono::milliseconds> Http1Session::decideRetryFor(AttemptResult result,
                                                                      const std::string& why) {
  return resilience_->decide(result, why, record_, request_.method + " " + request_.path);
}

bool Http1Session::retryAfter(AttemptResult result, const std::string& why) {
  auto backoff = decideRetryFor(result, why);
  if (!backoff) return false;
  retryNow(*backoff);
  return true;
}

void Http1Session::retryNow(std::chrono::milliseconds backoff) {
  closeUpstream();
  pending_up_failure_.reset();
  phase_ = Phase::kRouting;
  down_blocked_ = true;  // the body waits for the next attempt's connection
  up_blocked_ = false;
  resilience_->retryAfter(backoff, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    self->startAttempt();
    self->pumpDown();  // an attempt that could not start answered the client
  });
}

void Http1Session::closeUpstream() {
  if (up_) {
    up_->setOwner(nullptr);
    up_->close();
    up_.reset();
  }
  up_parser_.reset();
  upstream_wait_.reset();
  ++attempt_seq_;  // a connect still pending (or waiting) for the old attempt is dropped
  if (counted_ && choice_) env_.upstreams->end(*choice_);
  counted_ = false;
}

// ---- mirrors -------------------------------------------------------------------------------

void Http1Session::sendMirrors() {
  mirrored_ = true;
  if (!forward_ || forward_->mirrors.empty() || !env_.mirrors) return;
  if (!resilience_->replay().replayable()) {
    // The body outgrew what is kept: no copy (Envoy drops a shadow over its buffer limit).
    for (size_t i = 0; i < forward_->mirrors.size(); ++i) env_.mirrors->skipped();
    return;
  }
  // One serialized copy for every mirror: the request as forwarded, the whole body, and
  // `connection: close` so the mirror backend ends the exchange.
  const HttpRequest& r = forward_->request;
  std::vector<http1::HeaderField> fields = upstreamFields(r);
  fields.push_back({"connection", "close"});
  const std::string& body = resilience_->replay().bytes();
  http1::BodyFraming framing = request_body_ == http1::BodyKind::kNone
                                   ? http1::BodyFraming::none()
                                   : http1::BodyFraming::contentLength(body.size());
  http1::Serializer s;
  std::string bytes;
  auto st = s.requestHead(bytes, r.method, r.pathAndQuery(), fields, framing);
  if (st && !body.empty()) st = s.body(bytes, body);
  if (st) st = s.end(bytes);
  if (!st) {
    for (size_t i = 0; i < forward_->mirrors.size(); ++i) env_.mirrors->skipped();
    return;
  }
  for (const UpstreamChoice& choice : mirrorEndpoints(env_, *routes_, facts_, forward_->mirrors))
    env_.mirrors->send(choice, facts_.client, bytes, resilience_->mirrorLimit());
}

}  // namespace warren::waypoint
