// Events a Session reports to its owner (Envoy envoy/http/codec.h style: the codec is driven
// by dispatch() and speaks through callbacks). Callbacks run inside Session::dispatch(),
// pendingOutput() and onTimer(); they may call any Session method except dispatch(),
// pendingOutput() and drainOutput(), and must not destroy the Session.
#pragma once

#include <cstdint>
#include <span>

#include "common/http2/header.h"

namespace warren::http2 {

class SessionCallbacks {
 public:
  virtual ~SessionCallbacks() = default;

  // Server: the peer opened stream `id` with these request headers (pseudo-headers first).
  // Answer with Session::respond() (now or later) or Session::resetStream(). Every request
  // reaching here passed parseRequestHead() (RFC 9113 §8.3); an ordinary request that failed
  // it was answered 400 by the engine and is never reported. The request body follows as
  // onData, then onTrailers (if any) and onEndOfStream.
  virtual void onRequest(StreamId id, const HeaderList& headers) = 0;

  // Client: the final response to a request arrived with all its header fields (status
  // 200..599; interim 1xx responses are not reported, and a response with a status outside 100..599
  // resets the stream as malformed). For CONNECT, 2xx means the tunnel is up; anything else is
  // followed by the end of the stream.
  virtual void onResponse(StreamId id, int status, const HeaderList& headers) = 0;

  // DATA for stream `id`. The bytes are only valid during the call: copy them (or write them
  // out) now. THE BACKPRESSURE CONTRACT: the peer's window is credited only when the
  // application calls Session::consume(id, n) for these bytes, which it must do once they
  // have left its hands (e.g. written to the upstream socket) — or been dropped. Bytes given
  // here and not yet consumed never exceed the stream window (4 MiB) per stream nor the
  // connection window (16 MiB) in total.
  virtual void onData(StreamId id, std::span<const uint8_t> data) = 0;

  // Trailer fields (a HEADERS frame after the message's DATA, RFC 9113 §8.1; gRPC's grpc-status)
  // ended the peer's side of stream `id`; onEndOfStream follows at once. Tunnels never carry
  // trailers, so this one has a default that ignores them.
  virtual void onTrailers(StreamId id, const HeaderList& trailers) {
    (void)id;
    (void)trailers;
  }

  // The peer half-closed stream `id` (END_STREAM): no more onData for it. For a tunnel this
  // is TCP shutdown(SHUT_WR) on the upstream socket, once the buffered bytes are written.
  virtual void onEndOfStream(StreamId id) = 0;

  // Stream `id` is finished: both sides ended it (error_code 0) or it was reset (the code
  // says why; a reset by the peer or by us, or the session dying). No more events for it.
  virtual void onStreamClose(StreamId id, uint32_t error_code) = 0;

  // The send buffer of stream `id` drained to half after writeData() had taken less than
  // offered: the application may resume reading the socket that feeds it.
  virtual void onStreamWritable(StreamId id) = 0;

  // The peer sent GOAWAY: no new streams on this session. Streams above last_stream_id were
  // not processed (they close with kRefusedStream and may be retried elsewhere); the others
  // run to completion.
  virtual void onGoAway(uint32_t last_stream_id, uint32_t error_code) = 0;
};

}  // namespace warren::http2
