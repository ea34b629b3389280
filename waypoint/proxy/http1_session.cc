#include "waypoint/proxy/http1_session.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "common/http/http_message.h"
#include "waypoint/proxy/forward_resilience.h"
#include "waypoint/proxy/http1_session_internal.h"
#include "waypoint/proxy/request_steps.h"
#include "waypoint/route/route_filters.h"

namespace warren::waypoint {
namespace {

// "http://host:port/path?q" -> {"host:port", "/path?q"}; origin-form is returned as is.
std::pair<std::string, std::string> splitAbsoluteForm(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() &&
        equalsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
      std::string_view rest = target.substr(scheme.size());
      size_t slash = rest.find_first_of("/?");
      std::string authority(rest.substr(0, slash));
      std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
      if (path.starts_with("?")) path = "/" + path;
      return {authority, path};
    }
  }
  return {"", std::string(target)};
}

}  // namespace

ProxyRandom::ProxyRandom() {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&state_), sizeof(state_)) != 1 || state_ == 0)
    state_ = 0x9e3779b97f4a7c15ULL;
}

uint64_t ProxyRandom::below(uint64_t bound) {
  // xorshift64*: fast, and uniform enough for weights and endpoint draws (not a secret).
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  uint64_t x = state_ * 0x2545F4914F6CDD1DULL;
  return bound == 0 ? 0 : x % bound;
}

// ---- life ----------------------------------------------------------------------------------

Http1Session::Http1Session(SessionEnv& env, ConnectionFacts facts,
                           std::unique_ptr<StreamConduit> down, OnClosed on_closed)
    : env_(env),
      facts_(std::move(facts)),
      down_(std::move(down)),
      down_events_(std::make_unique<DownEvents>(*this)),
      down_parser_events_(std::make_unique<DownParserEvents>(*this)),
      down_parser_(http1::Role::kRequest, *down_parser_events_),
      on_closed_(std::move(on_closed)),
      up_events_(std::make_unique<UpEvents>(*this)),
      up_parser_events_(std::make_unique<UpParserEvents>(*this)) {
  resilience_ = std::make_unique<ForwardResilience>(env_);
  fault_timer_.setLoop(env_.loop);
  // The record's connection part, the same for every request on it (beginRecord carries it).
  record_.source = facts_.source;
  record_.service = facts_.service;
}

Http1Session::~Http1Session() {
  if (up_) up_->close();
  if (down_) down_->close();
}

void Http1Session::start() {
  down_->setOwner(down_events_.get());
  down_->wantInput(true);
}

void Http1Session::abort(const std::string& why) {
  if (closed_) return;
  if (phase_ != Phase::kIdle) {
    record_.response_flags.add(ResponseFlag::kDownstreamConnectionTermination);
    record_.response_code_details = why;
  }
  closed();
}

bool Http1Session::awaitingHead() const {
  return !closed_ && phase_ == Phase::kIdle &&
         (down_parser_.midMessage() || !down_->input().empty());
}

void Http1Session::headerTimeout() {
  if (!awaitingHead()) return;
  beginRecord();
  record_.response_code_details = "request_header_timeout";
  request_keep_alive_ = false;
  request_done_ = true;  // nothing more is read from this client
  localReply(408, "request header timeout\n");
  pumpDown();
}

// ---- downstream ----------------------------------------------------------------------------

void Http1Session::pumpDown() {
  if (in_pump_down_ || closed_) return;
  in_pump_down_ = true;
  while (!closed_) {
    if (phase_ != Phase::kIdle && request_done_ && response_done_) {
      finishExchange();
      continue;
    }
    if (phase_ == Phase::kClosing) {
      down_->input().clear();  // nothing more is served; read on to see the client's end
      break;
    }
    if (down_blocked_) break;
    std::string& in = down_->input();
    auto used = down_parser_.feed(in);
    if (!used) {
      const http1::ParseFailure& f = used.error();
      if (phase_ == Phase::kIdle) beginRecord();
      record_.response_flags.add(ResponseFlag::kDownstreamProtocolError);
      record_.response_code_details = f.message();
      request_keep_alive_ = false;
      request_done_ = true;  // nothing more can be read from this client
      if (!response_started_) {
        if (up_) up_->close();
        localReply(f.status(), f.message() + "\n");
      } else {
        closeDown("client sent bad HTTP: " + f.message());
      }
      continue;
    }
    in.erase(0, *used);
    if (pending_up_failure_) {
      auto f = *pending_up_failure_;
      pending_up_failure_.reset();
      upstreamBroke(f.status, f.flag, f.detail);
      continue;
    }
    if (head_ready_) {
      head_ready_ = false;
      startRequest();
      continue;
    }
    // The parser can end a message without consuming a byte (resumed after its head): the
    // exchange is finished at the top of the loop then.
    if (phase_ != Phase::kIdle && request_done_ && response_done_) continue;
    if (*used == 0) {
      if (down_->inputEnded()) {
        if (phase_ == Phase::kIdle && !down_parser_.midMessage()) {
          closeDown("client closed");
        } else if (!request_done_) {
          record_.response_flags.add(ResponseFlag::kDownstreamConnectionTermination);
          record_.response_code_details = "client closed mid-request";
          closed();
        }
      }
      break;
    }
  }
  in_pump_down_ = false;
  if (!closed_ && down_) down_->wantInput(true);
}

void Http1Session::beginRecord() {
  phase_ = Phase::kHead;
  record_done_ = false;
  // The connection's part (the client, the Service dialled; copied from the facts once, in the
  // constructor) moves from one record to the next.
  RequestPeer source = std::move(record_.source);
  metrics::ServiceLabels service = std::move(record_.service);
  record_ = RequestRecord{};
  record_.start_time = std::chrono::system_clock::now();
  started_ = std::chrono::steady_clock::now();
  record_.source = std::move(source);
  record_.service = std::move(service);
  record_.service_port = facts_.port;
}

http1::Flow Http1Session::onRequestHead(const http1::MessageHead& head) {
  ++heads_parsed_;
  beginRecord();
  request_ = HttpRequest{};
  request_.protocol = HttpProtocol::kHttp1;
  request_.method = std::string(head.method);
  auto [abs_authority, target] = splitAbsoluteForm(head.target);
  raw_target_ = std::move(target);
  request_.authority = !abs_authority.empty() ? abs_authority : std::string(head.host);
  request_.headers.reserve(head.headers.size());
  for (const auto& f : head.headers) {
    std::string name = toLowerAscii(f.name);
    if (name == "host" || session_internal::hopByHop(name)) continue;
    request_.headers.addLowered(std::move(name), f.value);
  }
  request_body_ = head.body;
  request_length_ = head.content_length;
  request_keep_alive_ = head.keep_alive;
  expect_continue_ = head.expect_continue;
  head_response_ = request_.method == "HEAD";
  http10_ = head.version.minor == 0;
  record_.method = request_.method;
  record_.authority = request_.authority;
  record_.path = std::string(head.target);
  record_.protocol = requestProtocolOf(request_);
  if (auto* ua = request_.headers.first("user-agent")) record_.user_agent = *ua;
  head_ready_ = true;
  down_blocked_ = true;
  return http1::Flow::kPause;
}

http1::Flow Http1Session::onRequestBody(std::string_view data) {
  record_.request_body_bytes += data.size();
  if (phase_ != Phase::kForwarding || !up_) return http1::Flow::kContinue;  // discarded
  resilience_->replay().append(data);  // kept while small, for a retry or a mirror
  std::string out;
  if (auto s = up_out_.body(out, data); !s) {
    pending_up_failure_ = {500, ResponseFlag::kDownstreamProtocolError,
                           "request body: " + s.error().message()};
    down_blocked_ = true;
    return http1::Flow::kPause;
  }
  up_->send(out);
  if (up_->overHighWater()) {
    down_blocked_ = true;  // onUpDrained resumes
    return http1::Flow::kPause;
  }
  return http1::Flow::kContinue;
}

http1::Flow Http1Session::onRequestComplete() {
  request_done_ = true;
  if (phase_ == Phase::kForwarding && up_) {
    std::string out;
    if (auto s = up_out_.end(out); s) up_->send(out);
  }
  // The whole request is known: its copies go now (fire-and-forget).
  if (forward_ && !mirrored_ && (phase_ == Phase::kForwarding || phase_ == Phase::kRouting))
    sendMirrors();
  down_blocked_ = true;  // one request at a time: the next waits for this exchange
  return http1::Flow::kPause;
}

void Http1Session::onDownInputEnd() {
  if (phase_ == Phase::kClosing) {
    maybeClosed();
    return;
  }
  // What is left in the input is served first; pumpDown ends the session at the boundary.
  pumpDown();
}

void Http1Session::maybeClosed() {
  // Closing the stream before the client ended its side would reset it, and a reset drops
  // the answer still queued in the HTTP/2 session: wait for both ends (END_STREAM each way).
  if (phase_ == Phase::kClosing && down_->sendBuffered() == 0 && down_->inputEnded()) closed();
}

void Http1Session::onDownDrained() {
  if (closed_) return;
  if (phase_ == Phase::kClosing) {
    maybeClosed();
    return;
  }
  if (up_blocked_ && !down_->overHighWater()) {
    up_blocked_ = false;
    pumpUp();
  }
}

void Http1Session::onDownFailed(const Error& e) {
  if (closed_) return;
  if (phase_ != Phase::kIdle) {
    record_.response_flags.add(ResponseFlag::kDownstreamConnectionTermination);
    record_.response_code_details = "client connection: " + e.message();
  }
  closed();
}

// ---- the decision --------------------------------------------------------------------------

void Http1Session::startRequest() {
  phase_ = Phase::kRouting;
  routes_ = env_.routes();
  auto target = normalizeRequestTarget(raw_target_, env_.normalization);
  if (!target) {
    record_.response_code_details = target.error().reason;
    localReply(target.error().status, target.error().reason + "\n", target.error().location);
    return;
  }
  request_.path = target->path;
  request_.query = target->query;

  // The protocol-neutral steps (request_steps.h): x-forwarded-*, x-request-id and trace
  // context; JWT and L7 authorization; the route decision.
  addForwardingHeaders(request_, record_, facts_, env_);
  if (auto r = admitRequest(request_, record_, facts_, env_))
    return localReply(r->status, r->body, "", r->headers);
  RouteDecision decision = decideRoute(*routes_, facts_, request_, *env_.random, record_);
  if (const RedirectAction* r = decision.redirect()) {
    localReply(r->status, "", r->location);
    return;
  }
  if (const DirectResponse* d = decision.direct()) {
    localReply(d->status, recordDirectResponse(*d, record_) + "\n");
    return;
  }
  // TrafficPolicy: a rate limit's 429, a fault's delay and abort (the client's body waits
  // unread meanwhile: down_blocked_ stays set until forward() reads it).
  TrafficVerdict traffic = applyTrafficPolicy(record_, facts_, env_);
  // The decision is this request's alone: its action (and the request in it) moves on.
  ForwardAction action = std::move(std::get<ForwardAction>(decision.action));
  if (traffic.delay.count() > 0 && env_.loop) {
    std::weak_ptr<Http1Session> weak = weak_from_this();
    fault_timer_.arm(traffic.delay, [weak, action = std::move(action),
                                     reply = std::move(traffic.reply)]() mutable {
      auto self = weak.lock();
      if (!self || self->closed_ || self->phase_ != Phase::kRouting) return;
      if (reply) {
        self->localReply(reply->status, reply->body, "", reply->headers);
      } else {
        self->forward(std::move(action));
      }
      self->pumpDown();
    });
    return;
  }
  if (traffic.reply)
    return localReply(traffic.reply->status, traffic.reply->body, "", traffic.reply->headers);
  forward(std::move(action));
}

// ---- answers and endings -------------------------------------------------------------------

void Http1Session::localReply(int status, const std::string& body, const std::string& location,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  phase_ = Phase::kLocal;
  record_.response_code = status;
  if (up_) {
    up_->close();
    up_.reset();
  }
  std::vector<http1::HeaderField> fields;
  if (!location.empty()) fields.push_back({"location", location});
  for (const auto& [name, value] : headers) fields.push_back({name, value});
  if (!body.empty()) fields.push_back({"content-type", "text/plain"});
  if (!record_.request_id.empty()) fields.push_back({"x-request-id", record_.request_id});
  if (!request_keep_alive_) fields.push_back({"connection", "close"});
  std::string out;
  down_out_ = http1::Serializer{};
  auto s = down_out_.responseHead(out, status, http::statusReason(status), fields,
                                  head_response_ ? http1::BodyFraming::headResponse(body.size())
                                                 : http1::BodyFraming::contentLength(body.size()));
  if (s && !head_response_) s = down_out_.body(out, body);
  if (s) s = down_out_.end(out);
  if (!s) {
    spdlog::warn("waypoint: local reply {}: {}", status, s.error().message());
    request_keep_alive_ = false;
  }
  down_->send(out);
  response_started_ = true;
  response_done_ = true;
  record_.response_body_bytes += head_response_ ? 0 : body.size();
  // Read (and drop) the rest of the request so the next one starts at a message boundary.
  down_blocked_ = false;
}

void Http1Session::finishExchange() {
  finishRecord();
  bool reuse = up_ && up_keep_alive_ && phase_ == Phase::kForwarding && up_parser_ &&
               !up_parser_->closed() && !up_parser_->midMessage();
  if (up_) {
    up_->setOwner(nullptr);
    if (reuse) {
      env_.upstreams->release(choice_->key(), std::move(up_));
    } else {
      up_->close();
      up_.reset();
    }
  }
  up_parser_.reset();
  phase_ = Phase::kIdle;
  request_done_ = response_done_ = response_started_ = false;
  up_blocked_ = up_reused_ = up_retried_ = head_response_ = false;
  continue_sent_ = mirrored_ = false;
  pending_retry_.reset();
  upstream_wait_.reset();
  resilience_->reset();
  fault_timer_.cancel();
  forward_.reset();
  choice_.reset();
  routes_.reset();
  if (!request_keep_alive_ || down_parser_.closed() ||
      (down_->inputEnded() && down_->input().empty())) {
    closeDown("exchange done, connection not kept alive");
    return;
  }
  down_blocked_ = false;
}

void Http1Session::finishRecord() {
  if (phase_ == Phase::kIdle || record_done_) return;
  record_done_ = true;
  record_.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started_);
  if (counted_ && choice_) env_.upstreams->end(*choice_);
  counted_ = false;
  resilience_->end();
  if (env_.on_request_done) env_.on_request_done(record_);
}

void Http1Session::closeDown(const std::string& why) {
  if (closed_ || phase_ == Phase::kClosing) return;
  spdlog::debug("waypoint: HTTP/1.1 session from {}: {}", facts_.client.toString(), why);
  phase_ = Phase::kClosing;
  down_->finishSending();
  maybeClosed();
}

void Http1Session::closed() {
  if (closed_) return;
  if (phase_ != Phase::kIdle && phase_ != Phase::kClosing) finishRecord();
  resilience_->end();
  closed_ = true;
  upstream_wait_.reset();
  if (up_) {
    up_->close();
    up_.reset();
  }
  if (down_) down_->close();
  if (on_closed_) on_closed_(this);
}

}  // namespace warren::waypoint
