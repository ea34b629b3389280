// H2Channel: one cleartext HTTP/2 connection (h2c, prior knowledge) of the waypoint, the
// common/http2 engine driven over a StreamConduit: a client's connection inside its HBONE
// CONNECT stream (server role, Http2Session), or the waypoint's own to an endpoint inside an
// upstream HBONE tunnel or plain TCP (client role, H2Upstreams). The TLS is HBONE's, outside.
//
// Bytes in: everything the conduit read goes through Session::dispatch() at once; what the peer
// may send is bounded by the HTTP/2 windows the application credits with consume().
// Bytes out: the session's serialised frames are moved to the conduit only while its send queue
// is under the high watermark; onDrained resumes. So a slow peer stops the session's output,
// then the streams' send buffers (writeData() takes less), then whoever feeds them.
//
// The session's callbacks (the owner's SessionCallbacks) run inside dispatch() and flush();
// they may call flush() (it is deferred and runs when the outer call returns) and any Session
// method but dispatch/pendingOutput/drainOutput. The owner must not destroy the channel from
// inside them: on_closed runs once, from a posted task or the end of a call, never nested in a
// session callback.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/http2/session.h"
#include "common/uring/event_loop.h"
#include "waypoint/proxy/stream_conduit.h"

namespace warren::waypoint {

class H2Channel final : private ConduitOwner {
 public:
  // The connection is over (why: the peer closed, a protocol error with its reason, GOAWAY done).
  using OnClosed = std::function<void(const std::string& why)>;

  // The inner sessions run without PING keep-alive (SessionConfig::ping_interval 0): the HBONE
  // connection around them has its own (common/http2 README), and Envoy does not ping
  // downstream HTTP/2 clients by default either.
  static http2::SessionConfig innerConfig(const http2::SessionConfig& base);

  static Result<std::unique_ptr<H2Channel>> create(uring::EventLoop& loop, http2::Role role,
                                                   const http2::SessionConfig& config,
                                                   http2::SessionCallbacks& events,
                                                   std::unique_ptr<StreamConduit> conduit,
                                                   OnClosed on_closed);
  ~H2Channel() override;
  H2Channel(const H2Channel&) = delete;
  H2Channel& operator=(const H2Channel&) = delete;

  // Starts reading; sends the preface and SETTINGS. Bytes already in the conduit's input (read
  // while sniffing) are dispatched first.
  void start();
  http2::Session& session() { return *session_; }
  // Moves what the session has ready to the conduit. Call after any Session call that may
  // produce output; safe from inside the session's callbacks (deferred).
  void flush();
  // Graceful GOAWAY: open streams finish, new ones are refused; closes once done.
  void goAway();
  // Ends now, without on_closed.
  void close();
  bool closed() const { return closed_; }
  std::string describe() const { return conduit_ ? conduit_->describe() : "closed"; }

 private:
  H2Channel(uring::EventLoop& loop, std::unique_ptr<StreamConduit> conduit, OnClosed on_closed);

  // ConduitOwner
  void onInput() override;
  void onInputEnd() override;
  void onDrained() override;
  void onFailed(const Error& error) override;

  void dispatchInput();
  // Ends the connection: flushes, half-closes, and tells the owner once the output is out and
  // the peer ended too (or kCloseGrace passed), from a posted task.
  void finish(const std::string& why);
  void maybeDone();

  // How long a finished connection waits for the peer's end before it is closed anyway.
  static constexpr std::chrono::seconds kCloseGrace{5};

  uring::EventLoop& loop_;
  std::unique_ptr<StreamConduit> conduit_;
  OnClosed on_closed_;
  std::unique_ptr<http2::Session> session_;
  bool busy_ = false;  // inside dispatch() or flush(): flush() is deferred
  bool flush_wanted_ = false;
  bool failed_ = false;  // the session is finished (error or GOAWAY done): no more input
  std::string fail_reason_;
  bool finishing_ = false;  // finish() ran: waiting for the output to drain and the peer's end
  bool broken_ = false;     // the transport failed: nothing more can be written
  bool grace_over_ = false;
  uring::OpId grace_ = 0;
  std::string reason_;
  bool closed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::waypoint
