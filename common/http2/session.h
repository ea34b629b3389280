// A sans-I/O HTTP/2 session on nghttp2: CONNECT tunnels (HBONE) and ordinary requests (any
// method, request and response bodies and trailers) through the same streams.
// Bytes in: dispatch(). Bytes out: pendingOutput() / drainOutput(). Time: onTimer(now). Events:
// SessionCallbacks. It owns no socket, thread or clock, so tests pair two sessions in memory
// and the io_uring worker drives the real thing. See common/http2/README.md.
//
// Backpressure, both ways:
//  - receive: automatic WINDOW_UPDATE is off; the peer's window is credited only by
//    consume(id, n) after the application has handed on the bytes onData() gave it. A slow
//    upstream socket therefore stops the peer within one stream window.
//  - send: writeData() copies into a bounded per-stream buffer and returns how much it took;
//    DATA leaves only as the peer's windows allow. onStreamWritable() says when to refill.
//  - output: at most max_output_buffer bytes (or one frame) wait for the transport.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/http2/byte_queue.h"
#include "common/http2/header.h"
#include "common/http2/request_head.h"
#include "common/http2/session_allocator.h"
#include "common/http2/session_callbacks.h"
#include "common/http2/session_config.h"
#include "common/http2/session_state.h"

namespace warren::http2 {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class Role { kClient, kServer };

// Where a Session with a sink (setFrameSink) puts frames: one at a time, each in pieces as they
// lie (a DATA frame's 9-byte header, then its payload straight from the stream's send buffer,
// in one or two pieces where that ring wraps), so the sink can consume them without a copy
// first (the TLS engine encrypts them into its output: TlsEngine::writeMessage).
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Takes the whole frame (the concatenation of `pieces`) and returns true, or takes nothing
  // and returns false: it is full, and the frame waits (with everything after it) for the next
  // sendFrames().
  virtual bool takeFrame(std::span<const std::span<const uint8_t>> pieces) = 0;
};

class Session {
 public:
  // The client queues its connection preface and SETTINGS, the server its SETTINGS: call
  // pendingOutput() to get them on the wire. `now` starts the keep-alive clock.
  static Result<std::unique_ptr<Session>> create(Role role, const SessionConfig& config,
                                                 SessionCallbacks& callbacks, TimePoint now);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // --- bytes in
  // Feeds bytes read from the transport; events fire during the call. An error means the
  // session is finished (protocol violation, flood, memory cap): flush pendingOutput() (it
  // may hold a GOAWAY saying why) and close the transport.
  Status dispatch(std::span<const uint8_t> bytes);

  // --- bytes out
  // Serialises whatever is ready (bounded by max_output_buffer) and returns the bytes to
  // write. Valid until the next call on this session.
  std::span<const uint8_t> pendingOutput();
  // The transport wrote the first n bytes of pendingOutput().
  void drainOutput(size_t n);
  // From now on frames go to `sink` as they are serialised, here and inside dispatch() (between
  // its input slices), instead of to the output buffer: call sendFrames() where pendingOutput()
  // would be. Set it before any output is taken (what the buffer holds then goes first).
  void setFrameSink(FrameSink* sink) { sink_ = sink; }
  // With a frame sink: serialises whatever is ready into it until it is full. Streams told they
  // may write again (onStreamWritable) meanwhile get their bytes sent in the same call.
  void sendFrames();
  // Something is waiting to be serialised or written (a corked tail included).
  bool wantsWrite() const;
  // Corked, while the transport has a write in flight: a stream's DATA goes out only in full
  // frames (max_send_data_frame, or all the windows allow) and a shorter tail waits in its send
  // buffer until the cork is lifted or the stream's side ends. A tunnel fed 16 KiB at a time
  // then sends frames that each fill one 16 KiB TLS record, instead of a full frame and a
  // 9-byte one, each its own record, per write. Lifting the cork queues the tails.
  void setCork(bool corked);
  // Nothing more to read or write: the transport should close. True after a GOAWAY once
  // every stream is done and the output is flushed, or after a fatal error once flushed.
  bool isClosed() const;

  // --- time
  // Runs keep-alive: sends a PING when due, fails (kTimeout) when its ACK is overdue.
  Status onTimer(TimePoint now);
  // When onTimer() next needs to run; nullopt when keep-alive is off or the session is dead.
  std::optional<TimePoint> nextTimer() const;

  // --- shutdown
  // GOAWAY. With kNoError it is a graceful drain: streams the peer already opened (up to the
  // last one we processed) run to completion, new ones are refused. Otherwise the session
  // ends with that error once the GOAWAY is flushed.
  void goAway(uint32_t error_code = kNoError);
  // A GOAWAY was sent or received.
  bool goingAway() const;
  // The error code of the last GOAWAY that went out (serialised), if any: why we ended it.
  std::optional<uint32_t> goAwaySentCode() const { return goaway_sent_code_; }

  // --- client streams
  // A new stream may be opened now: client role, no GOAWAY either way, session alive, and
  // fewer than maxConcurrentStreams() of our streams open.
  bool canOpenStream() const;
  // min(config.max_concurrent_streams, the peer's SETTINGS_MAX_CONCURRENT_STREAMS).
  uint32_t maxConcurrentStreams() const;
  // Streams this side opened that have not closed yet.
  size_t openStreamCount() const { return local_open_; }
  // Opens a stream with these request headers (pseudo-headers first). Body::kFollows: DATA
  // follows via writeData(), ended by closeWrite() or sendTrailers() (a CONNECT tunnel, e.g.
  // hbone::buildConnectHeaders: wait for onResponse(200) before sending data). Body::kNone:
  // the request is complete (END_STREAM on HEADERS, a GET).
  Result<StreamId> openStream(const HeaderList& headers, Body body = Body::kFollows);

  // --- server streams
  // Answers a request with a final status (200..999) and these regular header fields.
  // `body` says whether DATA follows (writeData(), then closeWrite() or sendTrailers()) or the
  // HEADERS frame ends our side. Without `body`, CONNECT semantics (HBONE): a 2xx keeps the
  // stream open for DATA both ways, any other status has no body.
  // Once our side has ended while the peer is still sending (an early answer), the peer's side
  // is reset with RST_STREAM(NO_ERROR), "stop sending, we are done" (RFC 9113 §8.1) — except
  // in a CONNECT tunnel answered 2xx, where ending our side is a half-close.
  Status respond(StreamId id, int status, const HeaderList& extra_headers = {},
                 std::optional<Body> body = std::nullopt);

  // --- data, either role
  // Free space in the stream's send buffer (0 for unknown or finished streams).
  size_t writableBytes(StreamId id) const;
  // Queues up to writableBytes() of `data`; returns how many bytes were taken. When less than
  // offered, onStreamWritable(id) fires once the buffer drains to half.
  Result<size_t> writeData(StreamId id, std::span<const uint8_t> data);
  // Asks for onStreamWritable(id) once the stream's send buffer drains to half, as a short
  // writeData() does; false (nothing will come) for an unknown, finished or ended stream.
  bool notifyWhenWritable(StreamId id);
  // Ends our side (END_STREAM) after everything queued so far: TCP shutdown(SHUT_WR).
  Status closeWrite(StreamId id);
  // Ends our side with trailer fields (a HEADERS frame with END_STREAM, RFC 9113 §8.1) after
  // everything queued so far: request trailers, or a response's (gRPC's grpc-status). Only on a
  // stream whose body follows (Body::kFollows); `trailers` holds no pseudo-header field and is
  // not empty (use closeWrite() for no trailers).
  Status sendTrailers(StreamId id, const HeaderList& trailers);
  // The application is done with n bytes onData() gave for stream `id` (written out or
  // dropped): credit the peer's windows. Safe after the stream closed (the connection window
  // is still credited); extra bytes beyond what was delivered are ignored.
  void consume(StreamId id, size_t n);
  // RST_STREAM with this code; onStreamClose follows.
  Status resetStream(StreamId id, uint32_t error_code = kCancel);

  // --- introspection (tests, admin dumps)
  size_t unconsumedBytes(StreamId id) const;
  size_t bufferedSendBytes(StreamId id) const;
  // How much more DATA we may send on the stream / the connection now (peer's windows).
  int32_t peerStreamWindow(StreamId id) const;
  int32_t peerConnectionWindow() const;
  // Bytes nghttp2 holds for this session, and the high-water mark.
  size_t nghttp2MemoryBytes() const { return allocator_.bytesInUse(); }
  size_t nghttp2PeakMemoryBytes() const { return allocator_.peakBytes(); }
  size_t outputBufferBytes() const { return out_.size() - out_head_; }
  // The output buffer keeps its storage across drains (up to max_output_buffer after a burst):
  // its capacity now, and a call that gives it back when nothing waits in it.
  size_t outputCapacity() const { return out_.capacity(); }
  void releaseIdleMemory();
  // A HEADERS frame arrived and its header block has not ended yet (END_HEADERS not seen):
  // until it does, nothing else may come on the connection (RFC 9113 §6.10). With
  // headerBlocksStarted(), what a request-head timeout (slowloris) watches.
  bool receivingHeaderBlock() const { return header_block_stream_ != 0; }
  uint64_t headerBlocksStarted() const { return header_blocks_started_; }
  // Streams the engine still tracks (open, or closed with bytes not yet consumed).
  size_t trackedStreams() const { return streams_.size(); }
  Role role() const { return role_; }
  // The payload of a full DATA frame we send (SessionConfig::max_send_data_frame).
  size_t maxDataFrame() const { return config_.max_send_data_frame; }
  // State for /config_dump-style debug output: role, windows, memory, GOAWAY, and per stream
  // its buffers and windows.
  nlohmann::json dumpState() const;
  // The state another engine needs to carry the session on (session_state.h), at a quiet
  // moment: refused, naming why, while frames wait to be sent (serialised here or queued in
  // nghttp2), a header block is half received, our SETTINGS are not acknowledged, an HPACK
  // dynamic table holds entries (SessionConfig::hpack_dynamic_table) or trailers wait.
  Result<SessionState> exportState() const;

 private:
  struct Stream {
    explicit Stream(size_t send_capacity) : send(send_capacity) {}
    ByteQueue send;
    HeaderList headers;       // being received
    size_t header_bytes = 0;  // RFC 9113 accounting of `headers`
    size_t unconsumed = 0;    // delivered by onData, not yet consume()d
    bool local = false;       // opened by this side
    bool announced = false;   // the application knows it (onRequest / openStream)
    bool silent = false;      // answered by the engine itself (431): no events
    bool responded = false;   // server: respond() done
    bool headers_too_large = false;
    bool connect = false;                // the request is a CONNECT
    bool reset_after_end = false;        // server: RST_STREAM(NO_ERROR) once our END_STREAM is out,
                                         // if the peer is still sending (not a 2xx CONNECT tunnel)
    std::optional<HeaderList> trailers;  // sendTrailers(): sent once the queued DATA is out
    bool provider_attached = false;      // a data provider is submitted (request or 2xx response)
    bool deferred = false;               // the provider returned NGHTTP2_ERR_DEFERRED
    bool end_requested = false;          // closeWrite() called
    bool writable_wanted = false;        // writeData() was short: notify at the low watermark
    bool closed = false;
    bool awaiting_final = false;  // client: a 1xx arrived, the final response has not
    bool final_response = false;  // client: the final response arrived (onResponse)
  };

  // Where the received bytes stand between frames: exportState() refuses half a frame, which
  // nghttp2 would hold and another engine would not have. Fed what nghttp2 consumed.
  struct InboundFrames {
    size_t preface_left = 0;  // server: the client's connection preface still to come
    std::array<uint8_t, 9> header{};
    size_t header_have = 0;   // bytes of a frame header received
    size_t payload_left = 0;  // bytes of the current frame's payload still to come
    void feed(std::span<const uint8_t> bytes);
    bool atBoundary() const { return preface_left == 0 && header_have == 0 && payload_left == 0; }
  };

  Session(Role role, const SessionConfig& config, SessionCallbacks& callbacks, TimePoint now);
  Status init();

  Stream* find(StreamId id);
  const Stream* find(StreamId id) const;
  void resumeIfDeferred(StreamId id, Stream& s);
  void eraseIfDone(StreamId id);
  void markClosed(StreamId id, uint32_t error_code);
  // Fatal: no more input; queue a GOAWAY with this code as a best-effort explanation.
  void die(const Error& e, uint32_t goaway_code);
  void flushNotifications();
  nghttp2_data_provider provider();
  // Answers a request the application never sees (431, or 400 naming a bad field) with an
  // optional text/plain body.
  void answerSilently(StreamId id, Stream& s, int status, std::string_view body);

  // nghttp2 callbacks (user_data is the Session).
  static ssize_t onSend(nghttp2_session*, const uint8_t* data, size_t len, int flags, void* ud);
  static int onSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source* source, void* ud);
  static ssize_t onReadData(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                            uint32_t* data_flags, nghttp2_data_source* source, void* ud);
  static ssize_t onReadLength(nghttp2_session*, uint8_t frame_type, int32_t stream_id,
                              int32_t session_remote_window, int32_t stream_remote_window,
                              uint32_t remote_max_frame_size, void* ud);
  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* ud);
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* ud);
  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* ud);
  static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* ud);
  static int onFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int error, void* ud);
  static int onError(nghttp2_session*, int lib_error, const char* msg, size_t len, void* ud);
  static int onDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* ud);
  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* ud);

  struct SessionDeleter {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
  };

  Role role_;
  SessionConfig config_;
  SessionCallbacks& callbacks_;
  SessionAllocator allocator_;  // declared before session_: nghttp2 frees through it
  std::unique_ptr<nghttp2_session, SessionDeleter> session_;

  std::unordered_map<StreamId, Stream> streams_;
  size_t local_open_ = 0;
  size_t total_unconsumed_ = 0;            // sum of Stream::unconsumed
  std::vector<StreamId> writable_notify_;  // onStreamWritable deferred until after send()
  bool cork_ = false;
  std::vector<StreamId> corked_;  // streams whose tail waits for the cork to lift

  std::vector<uint8_t> out_;
  size_t out_head_ = 0;
  FrameSink* sink_ = nullptr;  // setFrameSink(): frames go there, not to out_
  bool sink_full_ = false;     // the sink refused a frame since sendFrames() began

  bool dead_ = false;              // fatal error or ping timeout: no more input
  bool send_broken_ = false;       // nghttp2_session_send failed: nothing more will go out
  bool goaway_submitted_ = false;  // we queued or sent a GOAWAY
  bool goaway_received_ = false;
  StreamId goaway_last_stream_ = INT32_MAX;  // last stream our graceful GOAWAY accepts
  std::optional<Error> local_error_;         // why the session failed on our side
  std::string last_error_;                   // nghttp2's last error message, for context

  std::optional<uint32_t> goaway_sent_code_;
  InboundFrames inbound_;
  StreamId header_block_stream_ = 0;  // a header block in progress on this stream
  uint64_t header_blocks_started_ = 0;
  uint32_t consecutive_empty_frames_ = 0;

  // Keep-alive.
  TimePoint next_ping_;
  std::optional<TimePoint> ping_deadline_;  // an ACK is awaited until then
  uint64_t ping_seq_ = 0;
};

}  // namespace warren::http2
