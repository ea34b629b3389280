#include "waypoint/proxy/h2_channel.h"

#include <spdlog/spdlog.h>

namespace warren::waypoint {

http2::SessionConfig H2Channel::innerConfig(const http2::SessionConfig& base) {
  http2::SessionConfig c = base;
  c.ping_interval = std::chrono::milliseconds(0);
  return c;
}

H2Channel::H2Channel(uring::EventLoop& loop, std::unique_ptr<StreamConduit> conduit,
                     OnClosed on_closed)
    : loop_(loop), conduit_(std::move(conduit)), on_closed_(std::move(on_closed)) {}

Result<std::unique_ptr<H2Channel>> H2Channel::create(uring::EventLoop& loop, http2::Role role,
                                                     const http2::SessionConfig& config,
                                                     http2::SessionCallbacks& events,
                                                     std::unique_ptr<StreamConduit> conduit,
                                                     OnClosed on_closed) {
  std::unique_ptr<H2Channel> c(new H2Channel(loop, std::move(conduit), std::move(on_closed)));
  auto session = http2::Session::create(role, config, events, http2::Clock::now());
  if (!session) return fail(session.error());
  c->session_ = std::move(*session);
  return c;
}

H2Channel::~H2Channel() {
  *alive_ = false;
  close();
}

void H2Channel::start() {
  conduit_->setOwner(this);
  if (!conduit_->input().empty()) dispatchInput();
  if (closed_) return;
  flush();
  if (!closed_) conduit_->wantInput(!failed_);
}

void H2Channel::onInput() {
  if (finishing_) {
    conduit_->input().clear();  // read on only to see the peer's end
    return;
  }
  dispatchInput();
  if (!closed_ && conduit_) conduit_->wantInput(!failed_ || finishing_);
}

void H2Channel::dispatchInput() {
  if (closed_ || failed_) {
    conduit_->input().clear();
    return;
  }
  std::string& in = conduit_->input();
  auto alive = alive_;
  busy_ = true;
  auto st = session_->dispatch({reinterpret_cast<const uint8_t*>(in.data()), in.size()});
  busy_ = false;
  if (!*alive) return;
  in.clear();
  if (!st) {
    // A protocol violation or a flood: the GOAWAY (with its code) is in the output; no more
    // input is read, and the connection ends once it is written.
    failed_ = true;
    fail_reason_ = st.error().message();
  }
  flush();
}

void H2Channel::flush() {
  if (closed_) return;
  if (finishing_) {
    maybeDone();  // the transport's sending side is being closed: nothing more is produced
    return;
  }
  if (busy_) {
    flush_wanted_ = true;
    return;
  }
  auto alive = alive_;
  busy_ = true;
  do {
    flush_wanted_ = false;
    while (!conduit_->overHighWater()) {
      auto out = session_->pendingOutput();  // may run callbacks (onStreamWritable)
      if (!*alive) return;
      if (out.empty()) break;
      conduit_->send({reinterpret_cast<const char*>(out.data()), out.size()});
      session_->drainOutput(out.size());
    }
  } while (flush_wanted_ && !conduit_->overHighWater());
  busy_ = false;
  if (session_->isClosed() || (failed_ && !session_->wantsWrite())) {
    finish(failed_ ? fail_reason_ : "HTTP/2 connection done");
  }
}

void H2Channel::goAway() {
  if (closed_) return;
  session_->goAway();
  flush();
}

void H2Channel::onInputEnd() {
  if (finishing_) {
    maybeDone();
    return;
  }
  // The peer ended its side of the transport: nothing more can arrive, so whatever streams are
  // open cannot complete.
  finish("the peer closed the connection");
}

void H2Channel::onDrained() {
  if (finishing_) {
    maybeDone();
    return;
  }
  flush();
}

void H2Channel::onFailed(const Error& error) {
  broken_ = true;
  finish("connection: " + error.message());
}

void H2Channel::finish(const std::string& why) {
  if (closed_ || finishing_) return;
  failed_ = true;
  finishing_ = true;
  reason_ = why;
  if (!broken_) {
    // What is queued still goes out (a GOAWAY saying why), then END_STREAM / FIN. Closing the
    // transport before the peer ended its side would reset an HBONE stream, and a reset drops
    // what is still queued: wait for the peer's end too, at most kCloseGrace.
    conduit_->finishSending();
    conduit_->wantInput(true);
    grace_ = loop_.timeout(kCloseGrace, [alive = std::weak_ptr<bool>(alive_), this](int res) {
      auto a = alive.lock();
      if (!a || !*a || res != 0) return;
      grace_ = 0;
      grace_over_ = true;
      maybeDone();
    });
  }
  maybeDone();
}

void H2Channel::maybeDone() {
  if (closed_ || !finishing_ || !on_closed_) return;
  if (!broken_ && !grace_over_ && (conduit_->sendBuffered() > 0 || !conduit_->inputEnded())) return;
  auto done = std::move(on_closed_);
  on_closed_ = nullptr;
  // Posted: never inside a session callback or the conduit's own call stack.
  loop_.post([alive = std::weak_ptr<bool>(alive_), done = std::move(done), why = reason_] {
    if (auto a = alive.lock(); a && *a) done(why);
  });
}

void H2Channel::close() {
  if (closed_) return;
  closed_ = true;
  on_closed_ = nullptr;
  if (grace_) loop_.cancel(grace_);
  grace_ = 0;
  if (conduit_) conduit_->close();
}

}  // namespace warren::waypoint
