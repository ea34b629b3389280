#include "lab/echo/http2_echo_session.h"

#include <algorithm>

#include "common/grpc/status.h"
#include "lab/echo/grpc_echo.h"

namespace warren::echo {
namespace {

std::span<const uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The connection is the client's: no keep-alive PINGs from the echo (the idle timeout of the
// server closes a silent connection instead).
http2::SessionConfig echoConfig() {
  http2::SessionConfig c;
  c.ping_interval = std::chrono::milliseconds(0);
  return c;
}

}  // namespace

Result<std::unique_ptr<Http2EchoSession>> Http2EchoSession::create(const EchoContext& context,
                                                                   std::string peer) {
  std::unique_ptr<Http2EchoSession> s(new Http2EchoSession(context, std::move(peer)));
  auto session = http2::Session::create(http2::Role::kServer, echoConfig(), *s, Clock::now());
  if (!session) return fail(session.error());
  s->session_ = std::move(*session);
  return s;
}

Status Http2EchoSession::feed(std::string_view data) { return session_->dispatch(asBytes(data)); }

std::string_view Http2EchoSession::output() {
  last_output_ = session_->pendingOutput();
  return {reinterpret_cast<const char*>(last_output_.data()), last_output_.size()};
}

void Http2EchoSession::written(size_t n) { session_->drainOutput(n); }

std::optional<Http2EchoSession::Clock::time_point> Http2EchoSession::nextDue() const {
  std::optional<Clock::time_point> next;
  for (const auto& d : due_) {
    if (!next || d.at < *next) next = d.at;
  }
  return next;
}

void Http2EchoSession::runDue(Clock::time_point now) {
  std::vector<Due> ready;
  auto split =
      std::stable_partition(due_.begin(), due_.end(), [&](const Due& d) { return d.at > now; });
  ready.assign(std::make_move_iterator(split), std::make_move_iterator(due_.end()));
  due_.erase(split, due_.end());
  for (const auto& d : ready) {
    if (streams_.contains(d.id)) sendHttp(d.id, d.reply);
  }
}

std::vector<Http2EchoSession::Answered> Http2EchoSession::takeAnswered() {
  std::vector<Answered> out;
  out.swap(answered_);
  return out;
}

void Http2EchoSession::onRequest(http2::StreamId id, const http2::HeaderList& headers) {
  Stream& s = streams_[id];
  s.headers = headers;
  s.grpc = isGrpcRequest(headers);
  if (s.grpc) s.reader = std::make_unique<grpc::MessageReader>(kMaxGrpcMessage);
}

void Http2EchoSession::onData(http2::StreamId id, std::span<const uint8_t> data) {
  session_->consume(id, data.size());  // counted (or unframed) here and now
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  s.body_bytes += data.size();
  if (!s.grpc || s.error) return;
  auto r = s.reader->feed(data, [&](std::span<const uint8_t> m, bool) {
    s.messages.emplace_back(reinterpret_cast<const char*>(m.data()), m.size());
  });
  if (!r) {
    // Answer at once: the rest of the request is not needed (the engine resets it).
    s.error = r.error();
    answer(id, s);
  }
}

void Http2EchoSession::onEndOfStream(http2::StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end() || it->second.answered) return;
  Stream& s = it->second;
  if (s.grpc && !s.error) {
    if (auto fin = s.reader->finish(); !fin) s.error = fin.error();
  }
  answer(id, s);
}

void Http2EchoSession::onStreamClose(http2::StreamId id, uint32_t) {
  streams_.erase(id);
  std::erase_if(due_, [&](const Due& d) { return d.id == id; });
}

void Http2EchoSession::onStreamWritable(http2::StreamId id) {
  if (auto it = streams_.find(id); it != streams_.end()) pushBody(id, it->second);
}

void Http2EchoSession::answer(http2::StreamId id, Stream& s) {
  s.answered = true;
  if (s.grpc) {
    answerGrpc(id, s);
    return;
  }
  EchoRequest req;
  for (const auto& h : s.headers) {
    if (h.name == ":method") {
      req.method = h.value;
    } else if (h.name == ":path") {
      req.target = h.value;
    } else if (h.name == ":authority") {
      req.host = h.value;
    } else if (h.name == "host") {
      if (req.host.empty()) req.host = h.value;
    } else if (!h.name.starts_with(':')) {
      req.headers.emplace_back(h.name, h.value);
    }
  }
  req.proto = "HTTP/2.0";
  req.body_bytes = s.body_bytes;
  req.peer = peer_;
  EchoReply reply = respond(req, context_);
  answered_.push_back({req.method, req.target, req.host, reply.status, -1, s.body_bytes});
  if (reply.delay.count() > 0) {
    due_.push_back({Clock::now() + reply.delay, id, std::move(reply)});
    return;
  }
  sendHttp(id, reply);
}

void Http2EchoSession::sendHttp(http2::StreamId id, const EchoReply& reply) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  const std::string* method = http2::findHeader(s.headers, ":method");
  bool head = method != nullptr && *method == "HEAD";
  http2::HeaderList headers;
  for (const auto& [name, value] : reply.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // Connection-specific fields are not HTTP/2 (RFC 9113 8.2.2).
    if (lower == "connection" || lower == "keep-alive" || lower == "transfer-encoding") continue;
    headers.push_back({std::move(lower), value});
  }
  headers.push_back({"content-length", std::to_string(reply.body.size())});
  bool body = !reply.body.empty() && !head;
  if (!session_->respond(id, reply.status, headers,
                         body ? http2::Body::kFollows : http2::Body::kNone)) {
    (void)session_->resetStream(id, http2::kInternalError);
    return;
  }
  if (!body) return;
  s.body_out = reply.body;
  s.body_off = 0;
  pushBody(id, s);
}

void Http2EchoSession::pushBody(http2::StreamId id, Stream& s) {
  if (s.body_out.empty()) return;
  std::string_view rest = std::string_view(s.body_out).substr(s.body_off);
  auto n = session_->writeData(id, asBytes(rest));
  if (!n) return;
  s.body_off += *n;
  if (s.body_off == s.body_out.size()) {
    s.body_out.clear();
    (void)session_->closeWrite(id);
  }
}

void Http2EchoSession::answerGrpc(http2::StreamId id, Stream& s) {
  GrpcEchoReply reply;
  if (s.error) {
    reply = {s.error->status, s.error->message, {}};
  } else {
    const std::string* path = http2::findHeader(s.headers, ":path");
    reply = answerGrpcEcho(path ? *path : "", s.headers, s.messages, context_);
  }
  const std::string* path = http2::findHeader(s.headers, ":path");
  const std::string* authority = http2::findHeader(s.headers, ":authority");
  answered_.push_back({"POST", path ? *path : "", authority ? *authority : "", 200,
                       static_cast<int>(reply.status), s.body_bytes});
  http2::HeaderList headers = {{"content-type", "application/grpc"}};
  if (reply.status != grpc::GrpcStatus::kOk) {
    // Trailers-only: the status rides on the one HEADERS frame.
    headers.push_back({"grpc-status", grpc::formatStatus(reply.status)});
    headers.push_back({"grpc-message", grpc::encodeMessage(reply.message)});
    if (!session_->respond(id, 200, headers, http2::Body::kNone)) {
      (void)session_->resetStream(id, http2::kInternalError);
    }
    return;
  }
  std::vector<uint8_t> framed;
  grpc::appendMessage(framed, asBytes(reply.response));
  if (!session_->respond(id, 200, headers, http2::Body::kFollows) ||
      session_->writeData(id, framed).value_or(0) != framed.size() ||
      !session_->sendTrailers(id, {{"grpc-status", "0"}})) {
    (void)session_->resetStream(id, http2::kInternalError);
  }
}

}  // namespace warren::echo
