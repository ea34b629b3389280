// HboneConnection: one mTLS + HTTP/2 connection on a worker's event loop, either the client
// end of a pooled HBONE connection or the server end of one accepted on 15008. It glues three
// sans-I/O engines to a socket: ciphertext from the socket goes through the TlsEngine into the
// http2::Session; frames the session produces go straight into the engine (the session's
// FrameSink: a DATA frame's payload is encrypted from the stream's send buffer into the buffer
// that is sent, with no copy first) and out of the socket.
//
// Backpressure: one socket read is outstanding only while the session wants input (the HTTP/2
// receive windows bound what the peer may send), and at most one socket write is in flight:
// until it completes the TLS engine's output fills up (bounded by its output_limit), then
// each stream's send buffer, which is where HboneStream stops taking bytes from its relay.
//
// Streams: each open stream has a StreamHandler (HboneStream's state) that receives its
// events. Lifetime: the connection keeps itself alive (self reference) until it is closed; a
// closed connection tells every handler (onClose) and its owner (on_closed) once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/http2/session.h"
#include "common/net/socket_address.h"
#include "common/relay/socket_stream.h"
#include "common/tls/tls_engine.h"
#include "common/uring/event_loop.h"

namespace warren::mesh {

using http2::StreamId;

class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual void onResponse(int status) = 0;  // client streams
  virtual void onData(std::span<const uint8_t> data) = 0;
  virtual void onEndOfStream() = 0;
  virtual void onWritable() = 0;
  // The stream is over (error_code 0: cleanly, both sides ended). Last event.
  virtual void onClose(uint32_t error_code, const std::string& why) = 0;
};

class HboneConnection final : public std::enable_shared_from_this<HboneConnection>,
                              private relay::StreamEvents,
                              private http2::SessionCallbacks,
                              private http2::FrameSink {
 public:
  // Server: a CONNECT arrived. The callee attaches a handler (attach) and answers (respond),
  // now or later, or resets the stream.
  using OnRequest = std::function<void(const std::shared_ptr<HboneConnection>&, StreamId,
                                       const http2::HeaderList&)>;
  using OnClosed = std::function<void(HboneConnection*)>;

  // The TLS engine options of an HBONE connection: where no kTLS hand-off will follow (the
  // process knows the kernel refuses it, or --kernel-tls off), the engine's own record layer
  // takes the records as the handshake completes.
  static tls::TlsEngineOptions engineOptions();

  static Result<std::shared_ptr<HboneConnection>> create(uring::EventLoop& loop, UniqueFd fd,
                                                         tls::TlsEngine tls, http2::Role role,
                                                         const http2::SessionConfig& config,
                                                         OnRequest on_request, OnClosed on_closed);
  ~HboneConnection() override;

  // Starts reading and sends what is queued (the client's ClientHello and preface).
  void start();

  // Client: a new stream can be opened on this connection now.
  bool canOpenStream() const;
  size_t openStreams() const { return handlers_.size(); }
  // Closed, or a GOAWAY went either way: no stream will ever open here again.
  bool goingAway() const { return closed_ || session_->goingAway(); }
  // Streams the HTTP/2 session still tracks (open, or closed with bytes not yet consumed):
  // back to 0 once every tunnel on this connection ended.
  size_t trackedStreams() const { return session_->trackedStreams(); }
  Result<StreamId> openStream(const http2::HeaderList& headers,
                              std::shared_ptr<StreamHandler> handler);
  // Server: routes the stream's events to `handler`.
  void attach(StreamId id, std::shared_ptr<StreamHandler> handler);
  void detach(StreamId id) {
    handlers_.erase(id);
    streamsChanged();
  }

  http2::Session& session() { return *session_; }
  // Serialises what the session has ready, encrypts it and starts a socket write when none is
  // in flight. Call after any session call that may produce output.
  void flush();

  // Graceful: GOAWAY(NO_ERROR); open streams finish, new ones are refused; closes when idle.
  void drain();
  // Drains (GOAWAY) once the connection has carried no stream for `idle` (0: never). The
  // clock starts now if no stream is open, and again whenever the last stream ends; a stream
  // opened meanwhile stops it. The client pool sets it on every connection it dials.
  void drainWhenIdleFor(std::chrono::milliseconds idle);
  // Now: every stream's handler gets onClose with `why`.
  void close(const std::string& why);
  bool closed() const { return closed_; }
  // What this connection holds now: received DATA its streams have not taken yet, what they
  // queued to send, and the TLS engine's ciphertext (not the under-a-record of plaintext it
  // may stage). Each is bounded (stream window, stream send buffer, TLS output limit).
  size_t bufferedBytes() const;
  // The buffer storage kept for the next burst besides the fixed decryption buffer: the TLS
  // engine's output and staging, the spare send buffer (the session's output buffer stays
  // empty: frames go straight to the engine). A burst grows them (to ~150 KiB: the TLS output
  // limit and a send of that size, plus a record); once no stream is open and nothing is in
  // flight, more than kIdleKeep of it is given back.
  size_t heldCapacity() const;
  static constexpr size_t kIdleKeep = 64 * 1024;
  bool handshakeDone() const { return tls_.handshakeDone(); }
  // Everything another process needs to carry this connection on (issue 12 item 5; taking it
  // over on upgrade is the step after): the record layer's keys and sequence numbers and the
  // HTTP/2 session's windows and streams. At a quiet moment only: refused, naming why, while
  // ciphertext is on its way to the socket, a record is half received, or the session holds
  // state its export does not describe (http2::Session::exportState). The connection always
  // has a read posted: bytes it has not completed are still the socket's, so a hand-over
  // cancels that read first and exports once its completion (data or -ECANCELED) was handled.
  // Secret material: the caller cleanses `records` (tls::cleanse) once it has handed them on,
  // and never logs them.
  struct State {
    tls::RecordState records;
    http2::SessionState session;
  };
  Result<State> exportState() const;
  // Who carries the records after the handshake, decided once: the engine's own record layer as
  // the handshake completes where no kTLS hand-off will follow (engineOptions); otherwise, at
  // the first read with nothing in flight, the kernel (kTLS, --kernel-tls), else the own record
  // layer, else (not at a record boundary 16 reads in a row) OpenSSL's.
  bool recordsInKernel() const { return tls_.recordLayerHandedOver(); }
  bool ownRecords() const { return tls_.ownRecordLayer(); }
  bool recordLayerSettled() const { return records_settled_; }
  const std::optional<identity::SpiffeId>& peerIdentity() const { return tls_.peerIdentity(); }
  const net::SocketAddress& peerAddress() const { return peer_; }
  void setPeerAddress(const net::SocketAddress& peer) { peer_ = peer; }
  uring::EventLoop& loop() { return loop_; }

 private:
  HboneConnection(uring::EventLoop& loop, UniqueFd fd, tls::TlsEngine tls, OnRequest on_request,
                  OnClosed on_closed);

  // relay::StreamEvents (the socket)
  void onData(std::span<const char> data) override;
  void onReadEof() override;
  void onWritten(size_t bytes, uring::Buffer spent) override;
  // heldCapacity() back to nothing when no stream is open, no write is in flight and it is
  // over kIdleKeep (an idle pooled connection after a bulk transfer).
  void releaseIdleMemory();
  void onError(const Error& error) override;
  bool waitsForWrite() override;

  // http2::SessionCallbacks
  void onRequest(StreamId id, const http2::HeaderList& headers) override;
  void onResponse(StreamId id, int status, const http2::HeaderList& headers) override;
  void onData(StreamId id, std::span<const uint8_t> data) override;
  void onEndOfStream(StreamId id) override;
  void onStreamClose(StreamId id, uint32_t error_code) override;
  void onStreamWritable(StreamId id) override;
  void onGoAway(uint32_t last_stream_id, uint32_t error_code) override;
  // http2::FrameSink: each frame the session serialises goes straight into the TLS engine.
  bool takeFrame(std::span<const std::span<const uint8_t>> pieces) override;

  void readMore();
  // After the handshake, at the first read that leaves nothing in flight either way: the
  // records go to the kernel (kTLS, common/tls/kernel_tls.h) where it can take them, else to the
  // engine's own record layer (common/tls/record_layer.h). Decided once per connection.
  void settleRecordLayer();
  void notAtRecordBoundary(const Error& why);
  void armTimer();
  // The idle clock: started when no stream is open, stopped when one opens.
  void streamsChanged();
  void maybeFinish();
  StreamHandler* handler(StreamId id);

  uring::EventLoop& loop_;
  relay::SocketStream socket_;
  tls::TlsEngine tls_;
  std::unique_ptr<http2::Session> session_;
  OnRequest on_request_;
  OnClosed on_closed_;
  std::shared_ptr<HboneConnection> self_;  // alive until closed
  std::map<StreamId, std::shared_ptr<StreamHandler>> handlers_;
  std::vector<uint8_t> plaintext_;  // decryption buffer
  uring::Buffer spare_;             // the last send's buffer: the TLS engine's next output storage
  net::SocketAddress peer_;
  bool started_ = false;  // the socket is connected and events flow
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool flushing_ = false;
  bool records_settled_ = false;
  uint8_t settle_tries_ = 0;
  uring::OpId timer_ = 0;
  std::chrono::milliseconds idle_limit_{0};
  uring::OpId idle_timer_ = 0;
};

}  // namespace warren::mesh
