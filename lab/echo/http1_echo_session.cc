#include "lab/echo/http1_echo_session.h"

#include <vector>

#include "common/http1/serializer.h"
#include "common/http1/status_reason.h"

namespace warren::echo {
namespace {

// A response head and body; framing, Connection and the reason phrase are added here.
Result<std::string> serialize(int status, const Fields& headers, const std::string& body,
                              bool head_request, bool close, bool http10_keep_alive) {
  std::vector<http1::HeaderField> fields;
  for (const auto& [name, value] : headers) fields.push_back({name, value});
  if (close) fields.push_back({"Connection", "close"});
  if (!close && http10_keep_alive) fields.push_back({"Connection", "keep-alive"});
  const bool bodiless = status == 204 || status == 304;
  http1::BodyFraming framing = bodiless       ? http1::BodyFraming::none()
                               : head_request ? http1::BodyFraming::headResponse(body.size())
                                              : http1::BodyFraming::contentLength(body.size());
  http1::Serializer s;
  std::string out;
  out.reserve(256 + body.size());
  WARREN_TRY(s.responseHead(out, status, http1::reasonPhrase(status), fields, framing));
  if (!bodiless && !head_request) WARREN_TRY(s.body(out, body));
  WARREN_TRY(s.end(out));
  return out;
}

std::string errorBytes(int status, const std::string& message) {
  auto bytes = serialize(status, {{"Content-Type", "text/plain; charset=utf-8"}}, message + "\n",
                         false, true, false);
  // Only a field the serializer refuses can fail, and these are fixed.
  return bytes ? std::move(*bytes) : "HTTP/1.1 500 Internal Server Error\r\n\r\n";
}

}  // namespace

Http1EchoSession::Http1EchoSession(const EchoContext& context, std::string peer,
                                   http1::ParserLimits limits)
    : context_(context), peer_(std::move(peer)), parser_(http1::Role::kRequest, *this, limits) {}

http1::Flow Http1EchoSession::onHead(const http1::MessageHead& head) {
  // Views are valid during this event only: copy what the echo reports.
  request_ = EchoRequest{};
  request_.method = std::string(head.method);
  request_.target = std::string(head.target);
  request_.host = std::string(head.host);
  request_.proto =
      "HTTP/" + std::to_string(head.version.major) + "." + std::to_string(head.version.minor);
  for (const auto& f : head.headers) request_.headers.emplace_back(f.name, f.value);
  request_.peer = peer_;
  head_request_ = head.method == "HEAD";
  keep_alive_ = head.keep_alive;
  http10_ = head.version.minor == 0;
  expect_continue_ = head.expect_continue;
  return http1::Flow::kContinue;
}

http1::Flow Http1EchoSession::onBody(std::string_view data) {
  request_.body_bytes += data.size();
  return http1::Flow::kContinue;
}

http1::Flow Http1EchoSession::onMessageComplete() {
  complete_ = true;
  return http1::Flow::kPause;  // one request at a time: answered before the next is parsed
}

SessionOutput Http1EchoSession::refuse(const http1::ParseFailure& failure) {
  closed_ = true;
  pending_.clear();
  return SessionOutput{errorBytes(failure.status(), failure.message()), std::nullopt, true};
}

PendingReply Http1EchoSession::answer() {
  EchoReply reply = respond(request_, context_);
  const bool close = !keep_alive_ || parser_.closed();
  auto bytes = serialize(reply.status, reply.headers, reply.body, head_request_, close,
                         http10_ && keep_alive_);
  PendingReply out;
  out.delay = reply.delay;
  out.request = std::move(request_);
  if (bytes) {
    out.bytes = std::move(*bytes);
    out.status = reply.status;
  } else {
    // A field the codec refuses (X-Echo-Set-Header with a control byte): say which.
    out.bytes = errorBytes(500, "echo: " + bytes.error().message());
    out.status = 500;
  }
  return out;
}

SessionOutput Http1EchoSession::feed(std::string_view data) {
  SessionOutput out;
  if (closed_) {
    out.close = true;
    return out;
  }
  pending_.append(data);
  auto used = parser_.feed(pending_);
  if (!used) return refuse(used.error());
  pending_.erase(0, *used);
  // "Expect: 100-continue": the client waits for this before sending the body (not needed
  // when the body came along anyway).
  if (expect_continue_ && !complete_) out.bytes += http1::Serializer::kContinue;
  expect_continue_ = false;
  if (complete_) {
    complete_ = false;
    out.reply = answer();
    if (!keep_alive_ || parser_.closed()) {
      closed_ = true;
      out.close = true;
    }
  }
  return out;
}

SessionOutput Http1EchoSession::finish() {
  SessionOutput out;
  out.close = true;
  if (closed_) return out;
  closed_ = true;
  auto done = parser_.finish();
  if (!done) return refuse(done.error());
  return out;
}

}  // namespace warren::echo
