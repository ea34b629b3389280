// The echo's HTTP/2 front end (h2c with prior knowledge) as a sans-I/O session over the
// common/http2 engine: received bytes in, bytes to send out. Each request is answered once it
// has ended: a gRPC call (content-type application/grpc) by the GrpcEcho service
// (grpc_echo.h), with its messages unframed by common/grpc; anything else by the same
// respond() as HTTP/1.1 (echo_handler.h, proto "HTTP/2.0"), whose ?delay= is kept as a due
// time (nextDue()/runDue()) so other streams of the connection are not held up.
//
// Bodies are counted, never stored; gRPC request messages are held (one EchoRequest per call),
// bounded by kMaxGrpcMessage. Window credit is returned as soon as bytes are counted.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/grpc/message_framer.h"
#include "common/http2/session.h"
#include "lab/echo/echo_handler.h"

namespace warren::echo {

class Http2EchoSession : private http2::SessionCallbacks {
 public:
  using Clock = std::chrono::steady_clock;
  // A gRPC request message larger than this ends the call with RESOURCE_EXHAUSTED.
  static constexpr size_t kMaxGrpcMessage = 64u << 10;

  // Requests answered so far, with what was asked (for the log and counters).
  struct Answered {
    std::string method, path, authority;
    int status = 0;
    int grpc_status = -1;  // -1 for plain HTTP
    uint64_t body_bytes = 0;
  };

  static Result<std::unique_ptr<Http2EchoSession>> create(const EchoContext& context,
                                                          std::string peer);

  // Bytes received; an error means the connection is finished (flush output(), then close).
  Status feed(std::string_view data);
  // Bytes to send now (valid until the next call); the caller writes them all, then calls
  // written().
  std::string_view output();
  void written(size_t n);
  // Delayed answers: when the next one is due, and sending those due at `now`.
  std::optional<Clock::time_point> nextDue() const;
  void runDue(Clock::time_point now);
  // Nothing more to do on this connection (GOAWAY exchanged, or failed, and flushed).
  bool finished() const { return session_->isClosed(); }
  // Requests answered since the last call.
  std::vector<Answered> takeAnswered();

 private:
  struct Stream {
    http2::HeaderList headers;
    bool grpc = false;
    uint64_t body_bytes = 0;
    std::unique_ptr<grpc::MessageReader> reader;  // gRPC only
    std::vector<std::string> messages;
    std::optional<grpc::GrpcError> error;  // the framing failed
    std::string body_out;                  // response body not yet taken by the engine
    size_t body_off = 0;
    bool answered = false;
  };
  struct Due {
    Clock::time_point at;
    http2::StreamId id;
    EchoReply reply;
  };

  Http2EchoSession(const EchoContext& context, std::string peer)
      : context_(context), peer_(std::move(peer)) {}

  void answer(http2::StreamId id, Stream& s);
  void answerGrpc(http2::StreamId id, Stream& s);
  void sendHttp(http2::StreamId id, const EchoReply& reply);
  void pushBody(http2::StreamId id, Stream& s);

  void onRequest(http2::StreamId id, const http2::HeaderList& headers) override;
  void onResponse(http2::StreamId, int, const http2::HeaderList&) override {}
  void onData(http2::StreamId id, std::span<const uint8_t> data) override;
  void onEndOfStream(http2::StreamId id) override;
  void onStreamClose(http2::StreamId id, uint32_t error_code) override;
  void onStreamWritable(http2::StreamId id) override;
  void onGoAway(uint32_t, uint32_t) override {}

  const EchoContext& context_;
  std::string peer_;
  std::unique_ptr<http2::Session> session_;
  std::map<http2::StreamId, Stream> streams_;
  std::vector<Due> due_;
  std::vector<Answered> answered_;
  std::span<const uint8_t> last_output_;
};

}  // namespace warren::echo
