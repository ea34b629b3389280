#include "common/http2/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include "common/http2/session_internal.h"

namespace warren::http2 {

using detail::kHeaderFieldOverhead;
using detail::putU64;
using detail::toNv;

namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using CallbacksPtr =
    std::unique_ptr<nghttp2_session_callbacks, Deleter<nghttp2_session_callbacks_del>>;
using OptionPtr = std::unique_ptr<nghttp2_option, Deleter<nghttp2_option_del>>;

Error nghttp2Error(std::string_view what, int rv) {
  return Error(ErrorCode::kProtocol, fmt::format("http2: {}: {}", what, nghttp2_strerror(rv)));
}

// Input slice between two serialisations of output in dispatch(): small enough that a flood
// limit's GOAWAY takes effect after a few hundred frames, large enough to cost nothing.
constexpr size_t kDispatchSlice = 16u << 10;
// RFC 9113 6.5.2 SETTINGS_MAX_FRAME_SIZE bounds.
constexpr uint32_t kMinFrameSize = 1u << 14;
constexpr uint32_t kMaxFrameSize = (1u << 24) - 1;


}  // namespace

Session::Session(Role role, const SessionConfig& config, SessionCallbacks& callbacks, TimePoint now)
    : role_(role),
      config_(config),
      callbacks_(callbacks),
      allocator_(config.max_session_memory),
      next_ping_(now + config.ping_interval) {}

Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::create(Role role, const SessionConfig& config,
                                                 SessionCallbacks& callbacks, TimePoint now) {
  if (config.stream_window > NGHTTP2_MAX_WINDOW_SIZE ||
      config.connection_window > NGHTTP2_MAX_WINDOW_SIZE || config.stream_window == 0) {
    return fail(Error::invalid(
        fmt::format("http2 config: windows must be in 1..{} (stream {}, connection {})",
                    NGHTTP2_MAX_WINDOW_SIZE, config.stream_window, config.connection_window)));
  }
  if (config.max_frame_size < kMinFrameSize || config.max_frame_size > kMaxFrameSize) {
    return fail(Error::invalid(fmt::format("http2 config: max_frame_size {} not in {}..{}",
                                           config.max_frame_size, kMinFrameSize, kMaxFrameSize)));
  }
  if (config.max_send_data_frame == 0 || config.max_send_data_frame > kMaxFrameSize) {
    return fail(Error::invalid(fmt::format("http2 config: max_send_data_frame {} not in 1..{}",
                                           config.max_send_data_frame, kMaxFrameSize)));
  }
  if (config.max_concurrent_streams == 0 || config.stream_send_buffer == 0 ||
      config.max_output_buffer == 0) {
    return fail(Error::invalid(
        "http2 config: max_concurrent_streams, stream_send_buffer and max_output_buffer must "
        "be positive"));
  }
  if (config.ping_interval.count() > 0 && config.ping_timeout.count() <= 0) {
    return fail(Error::invalid("http2 config: ping_timeout must be positive with keep-alive"));
  }
  std::unique_ptr<Session> s(new Session(role, config, callbacks, now));
  WARREN_TRY(s->init());
  return s;
}

Status Session::init() {
  nghttp2_session_callbacks* raw_cbs = nullptr;
  if (int rv = nghttp2_session_callbacks_new(&raw_cbs); rv != 0) {
    return fail(nghttp2Error("creating callbacks", rv));
  }
  CallbacksPtr cbs(raw_cbs);
  nghttp2_session_callbacks_set_send_callback(cbs.get(), &Session::onSend);
  nghttp2_session_callbacks_set_send_data_callback(cbs.get(), &Session::onSendData);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cbs.get(), &Session::onReadLength);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs.get(), &Session::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs.get(), &Session::onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), &Session::onFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs.get(), &Session::onFrameSend);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs.get(), &Session::onFrameNotSend);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), &Session::onDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), &Session::onStreamClose);
  nghttp2_session_callbacks_set_error_callback2(cbs.get(), &Session::onError);

  nghttp2_option* raw_opt = nullptr;
  if (int rv = nghttp2_option_new(&raw_opt); rv != 0) {
    return fail(nghttp2Error("creating options", rv));
  }
  OptionPtr opt(raw_opt);
  // The backpressure contract: window credit only through consume().
  nghttp2_option_set_no_auto_window_update(opt.get(), 1);
  // Until the peer's SETTINGS arrive, assume it accepts no more streams than we would open.
  nghttp2_option_set_peer_max_concurrent_streams(opt.get(), config_.max_concurrent_streams);
  // No RFC 7540 priority tree: closed streams need not be kept around for it.
  nghttp2_option_set_no_closed_streams(opt.get(), 1);
  nghttp2_option_set_max_settings(opt.get(), config_.max_settings_entries);
  nghttp2_option_set_max_outbound_ack(opt.get(), config_.max_outbound_ack);
  nghttp2_option_set_max_continuations(opt.get(), config_.max_continuations);
  nghttp2_option_set_stream_reset_rate_limit(opt.get(), config_.reset_burst,
                                             config_.reset_rate_per_second);
  if (!config_.hpack_dynamic_table) nghttp2_option_set_max_deflate_dynamic_table_size(opt.get(), 0);

  nghttp2_session* raw = nullptr;
  int rv = role_ == Role::kClient
               ? nghttp2_session_client_new3(&raw, cbs.get(), this, opt.get(), allocator_.mem())
               : nghttp2_session_server_new3(&raw, cbs.get(), this, opt.get(), allocator_.mem());
  if (rv != 0) return fail(nghttp2Error("creating session", rv));
  session_.reset(raw);

  std::vector<nghttp2_settings_entry> settings = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, config_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, config_.stream_window},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, config_.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, config_.max_header_list_size},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  if (role_ == Role::kClient) settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  if (!config_.hpack_dynamic_table) settings.push_back({NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 0});
  if (role_ == Role::kServer) inbound_.preface_left = NGHTTP2_CLIENT_MAGIC_LEN;
  rv = nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  if (rv != 0) return fail(nghttp2Error("submitting SETTINGS", rv));
  // The connection window is not a setting: it grows by a WINDOW_UPDATE on stream 0.
  rv = nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0,
                                             static_cast<int32_t>(config_.connection_window));
  if (rv != 0) return fail(nghttp2Error("setting the connection window", rv));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Bytes in and out.

Status Session::dispatch(std::span<const uint8_t> bytes) {
  if (local_error_) return fail(*local_error_);
  if (dead_) return fail(Error(ErrorCode::kProtocol, "http2: session is closed"));
  // Input is fed in slices with output serialised in between, so a GOAWAY nghttp2 decides on
  // (rapid reset, bad SETTINGS...) goes out, and takes effect, within the same read: nghttp2
  // keeps accepting new streams until its GOAWAY is actually sent.
  while (!bytes.empty()) {
    auto slice = bytes.first(std::min(bytes.size(), kDispatchSlice));
    ssize_t rv = nghttp2_session_mem_recv(session_.get(), slice.data(), slice.size());
    if (rv < 0) {
      auto e = nghttp2Error(last_error_.empty() ? "receiving" : last_error_, static_cast<int>(rv));
      uint32_t code = rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ||
                              rv == NGHTTP2_ERR_NOMEM
                          ? kEnhanceYourCalm
                          : kProtocolError;
      die(e, code);
      return fail(std::move(e));
    }
    inbound_.feed(slice.first(static_cast<size_t>(rv)));
    bytes = bytes.subspan(slice.size());
    if (!send_broken_ && nghttp2_session_want_write(session_.get())) {
      if (int sv = nghttp2_session_send(session_.get()); sv != 0) {
        send_broken_ = true;
        auto e = nghttp2Error("sending", sv);
        die(e, kInternalError);
        return fail(std::move(e));
      }
    }
    if (local_error_) return fail(*local_error_);
  }
  flushNotifications();
  // nghttp2 ends the session for most violations by sending a GOAWAY with TERM_ON_SEND; it
  // then stops wanting to read although nobody asked for a drain.
  if (!nghttp2_session_want_read(session_.get()) && !goaway_submitted_ && !goaway_received_) {
    local_error_ = Error(ErrorCode::kProtocol,
                         fmt::format("http2: peer broke the protocol ({}); session terminated",
                                     last_error_.empty() ? "no detail" : last_error_));
    return fail(*local_error_);
  }
  return ok();
}

std::span<const uint8_t> Session::pendingOutput() {
  if (!send_broken_) {
    int rv = nghttp2_session_send(session_.get());
    if (rv != 0) {
      send_broken_ = true;
      if (!dead_) die(nghttp2Error("sending", rv), kInternalError);
    }
  }
  flushNotifications();
  return {out_.data() + out_head_, out_.size() - out_head_};
}

void Session::sendFrames() {
  if (sink_ == nullptr) return;
  if (outputBufferBytes() > 0) {  // serialised before the sink was set
    const std::span<const uint8_t> left[1] = {{out_.data() + out_head_, outputBufferBytes()}};
    if (!sink_->takeFrame(left)) return;
    drainOutput(outputBufferBytes());
  }
  sink_full_ = false;
  // Streams told they may write (flushNotifications) queue more: send again until nothing more
  // comes or the sink is full.
  do {
    if (!send_broken_) {
      int rv = nghttp2_session_send(session_.get());
      if (rv != 0) {
        send_broken_ = true;
        if (!dead_) die(nghttp2Error("sending", rv), kInternalError);
      }
    }
    if (writable_notify_.empty()) break;
    flushNotifications();
  } while (!sink_full_ && !send_broken_);
}

void Session::drainOutput(size_t n) {
  out_head_ = std::min(out_.size(), out_head_ + n);
  if (out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
  } else if (out_head_ > out_.size() / 2) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_head_));
    out_head_ = 0;
  }
}

void Session::releaseIdleMemory() {
  if (outputBufferBytes() != 0) return;
  std::vector<uint8_t>().swap(out_);
  out_head_ = 0;
}

void Session::setCork(bool corked) {
  cork_ = corked;
  if (corked) return;
  for (StreamId id : std::exchange(corked_, {})) {
    if (Stream* s = find(id)) resumeIfDeferred(id, *s);
  }
}

bool Session::wantsWrite() const {
  return outputBufferBytes() > 0 || !corked_.empty() ||
         (!send_broken_ && nghttp2_session_want_write(session_.get()) != 0);
}

bool Session::isClosed() const {
  if (wantsWrite()) return false;
  return dead_ || nghttp2_session_want_read(session_.get()) == 0;
}

void Session::die(const Error& e, uint32_t goaway_code) {
  dead_ = true;
  if (!local_error_) local_error_ = e;
  ping_deadline_.reset();
  // Best effort: tell the peer why. After a fatal nghttp2 error the queue may not drain.
  nghttp2_session_terminate_session(session_.get(), goaway_code);
  goaway_submitted_ = true;
}

// ---------------------------------------------------------------------------------------------
// Time.

Status Session::onTimer(TimePoint now) {
  if (dead_) return local_error_ ? fail(*local_error_) : ok();
  if (config_.ping_interval.count() <= 0) return ok();
  if (ping_deadline_ && now >= *ping_deadline_) {
    Error e(ErrorCode::kTimeout,
            fmt::format("http2: PING not acknowledged within {} ms; peer presumed dead",
                        config_.ping_timeout.count()));
    die(e, kNoError);
    return fail(std::move(e));
  }
  if (!ping_deadline_ && now >= next_ping_) {
    uint8_t opaque[8];
    putU64(opaque, ++ping_seq_);
    if (int rv = nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, opaque); rv != 0) {
      return fail(nghttp2Error("submitting PING", rv));
    }
    ping_deadline_ = now + config_.ping_timeout;
    next_ping_ = now + config_.ping_interval;
  }
  return ok();
}

std::optional<TimePoint> Session::nextTimer() const {
  if (dead_ || config_.ping_interval.count() <= 0) return std::nullopt;
  return ping_deadline_ ? *ping_deadline_ : next_ping_;
}

// ---------------------------------------------------------------------------------------------
// Shutdown.

void Session::goAway(uint32_t error_code) {
  if (dead_) return;
  if (error_code != kNoError) {
    nghttp2_session_terminate_session(session_.get(), error_code);
  } else if (!goaway_submitted_) {
    // Server: the last stream we have seen is processed, later ones are refused. Client: we
    // never accept pushed streams, so 0.
    int32_t last =
        role_ == Role::kServer ? nghttp2_session_get_last_proc_stream_id(session_.get()) : 0;
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, nullptr, 0);
    goaway_last_stream_ = last;
  }
  goaway_submitted_ = true;
}

bool Session::goingAway() const { return goaway_submitted_ || goaway_received_; }

// ---------------------------------------------------------------------------------------------
// Streams.

uint32_t Session::maxConcurrentStreams() const {
  uint32_t peer =
      nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return std::min(config_.max_concurrent_streams, peer);
}

bool Session::canOpenStream() const {
  return role_ == Role::kClient && !dead_ && !goingAway() && local_open_ < maxConcurrentStreams() &&
         nghttp2_session_check_request_allowed(session_.get()) != 0;
}

nghttp2_data_provider Session::provider() {
  nghttp2_data_provider p;
  p.source.ptr = nullptr;
  p.read_callback = &Session::onReadData;
  return p;
}

Result<StreamId> Session::openStream(const HeaderList& headers, Body body) {
  if (!canOpenStream()) {
    return fail(Error(ErrorCode::kUnavailable,
                      fmt::format("http2: cannot open a stream ({} of {} open{}{})", local_open_,
                                  maxConcurrentStreams(), goingAway() ? ", going away" : "",
                                  dead_ ? ", session dead" : "")));
  }
  auto nva = toNv(headers);
  auto prov = provider();
  int32_t id = nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(),
                                      body == Body::kFollows ? &prov : nullptr, nullptr);
  if (id < 0) return fail(nghttp2Error("opening a stream", id));
  auto [it, inserted] = streams_.try_emplace(id, config_.stream_send_buffer);
  Stream& st = it->second;
  st.local = true;
  st.announced = true;
  st.provider_attached = body == Body::kFollows;
  st.end_requested = body == Body::kNone;
  const std::string* method = findHeader(headers, ":method");
  st.connect = method != nullptr && *method == "CONNECT";
  ++local_open_;
  return id;
}

Status Session::respond(StreamId id, int status, const HeaderList& extra_headers,
                        std::optional<Body> body) {
  Stream* s = find(id);
  if (s == nullptr || s->closed || !s->announced) {
    return fail(Error::notFound(fmt::format("http2: respond: no open stream {}", id)));
  }
  if (s->responded) {
    return fail(Error::invalid(fmt::format("http2: respond: stream {} already answered", id)));
  }
  if (status < 200 || status > 999) {
    return fail(Error::invalid(
        fmt::format("http2: respond: status {} is not a final status (200..999)", status)));
  }
  HeaderList headers;
  headers.reserve(extra_headers.size() + 1);
  headers.push_back({":status", std::to_string(status)});
  headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
  auto nva = toNv(headers);
  bool success = status >= 200 && status < 300;
  // CONNECT semantics when the caller does not say: only a 2xx opens the tunnel.
  Body b = body.value_or(success ? Body::kFollows : Body::kNone);
  auto prov = provider();
  int rv = nghttp2_submit_response(session_.get(), id, nva.data(), nva.size(),
                                   b == Body::kFollows ? &prov : nullptr);
  if (rv != 0) return fail(nghttp2Error(fmt::format("responding on stream {}", id), rv));
  s->responded = true;
  if (b == Body::kFollows) {
    s->provider_attached = true;
  } else {
    s->send.clear();
    s->end_requested = true;
  }
  // RFC 9113 8.1: after a complete response, RST_STREAM(NO_ERROR) asks the client to stop
  // sending its request body; what h2/hyper (ztunnel) and grpc-go do for an early answer too.
  // Sent from onFrameSend once our END_STREAM is out (nghttp2 drops queued frames of a stream
  // once a RST for it is submitted), and only if the peer is still sending then. A 2xx to
  // CONNECT is a tunnel: our END_STREAM is a half-close there.
  s->reset_after_end = !(s->connect && success);
  return ok();
}

size_t Session::writableBytes(StreamId id) const {
  const Stream* s = find(id);
  if (s == nullptr || s->closed || s->end_requested) return 0;
  return s->send.space();
}

Result<size_t> Session::writeData(StreamId id, std::span<const uint8_t> data) {
  Stream* s = find(id);
  if (s == nullptr || s->closed) {
    return fail(Error::notFound(fmt::format("http2: write: no open stream {}", id)));
  }
  if (s->end_requested) {
    return fail(Error::invalid(fmt::format("http2: write on stream {} after our side ended", id)));
  }
  size_t n = s->send.append(data);
  if (n < data.size()) s->writable_wanted = true;
  if (n > 0) resumeIfDeferred(id, *s);
  return n;
}

bool Session::notifyWhenWritable(StreamId id) {
  Stream* s = find(id);
  if (s == nullptr || s->closed || s->end_requested) return false;
  s->writable_wanted = true;
  return true;
}

Status Session::closeWrite(StreamId id) {
  Stream* s = find(id);
  if (s == nullptr || s->closed) {
    return fail(Error::notFound(fmt::format("http2: closeWrite: no open stream {}", id)));
  }
  s->end_requested = true;
  resumeIfDeferred(id, *s);
  return ok();
}

Status Session::sendTrailers(StreamId id, const HeaderList& trailers) {
  Stream* s = find(id);
  if (s == nullptr || s->closed) {
    return fail(Error::notFound(fmt::format("http2: sendTrailers: no open stream {}", id)));
  }
  if (!s->provider_attached || s->end_requested) {
    return fail(Error::invalid(
        fmt::format("http2: sendTrailers: stream {} has no body in progress (our side ended, or no "
                    "Body::kFollows request/response yet)",
                    id)));
  }
  if (trailers.empty()) {
    return fail(Error::invalid("http2: sendTrailers: no trailer fields (use closeWrite)"));
  }
  for (const auto& h : trailers) {
    if (!h.name.empty() && h.name[0] == ':') {
      return fail(Error::invalid(
          fmt::format("http2: sendTrailers: pseudo-header {} in trailers (RFC 9113 8.1)", h.name)));
    }
  }
  s->trailers = trailers;
  s->end_requested = true;
  resumeIfDeferred(id, *s);
  return ok();
}

void Session::answerSilently(StreamId id, Stream& s, int status, std::string_view body) {
  s.announced = true;  // so respond() accepts it; the application never hears of it
  s.silent = true;
  if (body.empty()) {
    (void)respond(id, status, {}, Body::kNone);
    return;
  }
  (void)s.send.append({reinterpret_cast<const uint8_t*>(body.data()), body.size()});
  s.end_requested = true;
  (void)respond(id, status,
                {{"content-type", "text/plain; charset=utf-8"},
                 {"content-length", std::to_string(s.send.size())}},
                Body::kFollows);
}

void Session::consume(StreamId id, size_t n) {
  Stream* s = find(id);
  if (s == nullptr) return;
  n = std::min(n, s->unconsumed);
  if (n == 0) return;
  s->unconsumed -= n;
  total_unconsumed_ -= n;
  // Credits the connection window always, the stream window while nghttp2 still has the
  // stream; a WINDOW_UPDATE goes out once half a window has been consumed.
  nghttp2_session_consume(session_.get(), id, n);
  eraseIfDone(id);
}

Status Session::resetStream(StreamId id, uint32_t error_code) {
  Stream* s = find(id);
  if (s == nullptr || s->closed) {
    return fail(Error::notFound(fmt::format("http2: reset: no open stream {}", id)));
  }
  s->send.clear();
  int rv = nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, id, error_code);
  if (rv != 0) return fail(nghttp2Error(fmt::format("resetting stream {}", id), rv));
  return ok();
}

size_t Session::unconsumedBytes(StreamId id) const {
  const Stream* s = find(id);
  return s == nullptr ? 0 : s->unconsumed;
}

size_t Session::bufferedSendBytes(StreamId id) const {
  const Stream* s = find(id);
  return s == nullptr ? 0 : s->send.size();
}

int32_t Session::peerStreamWindow(StreamId id) const {
  return nghttp2_session_get_stream_remote_window_size(session_.get(), id);
}

int32_t Session::peerConnectionWindow() const {
  return nghttp2_session_get_remote_window_size(session_.get());
}

nlohmann::json Session::dumpState() const {
  nlohmann::json streams = nlohmann::json::array();
  for (const auto& [id, st] : streams_) {
    streams.push_back({{"id", id},
                       {"local", st.local},
                       {"closed", st.closed},
                       {"end_requested", st.end_requested},
                       {"buffered_send_bytes", st.send.size()},
                       {"unconsumed_bytes", st.unconsumed},
                       {"peer_window", st.closed ? 0 : peerStreamWindow(id)}});
  }
  return {{"role", role_ == Role::kClient ? "client" : "server"},
          {"dead", dead_},
          {"error", local_error_ ? local_error_->message() : ""},
          {"last_nghttp2_error", last_error_},
          {"goaway_sent", goaway_submitted_},
          {"goaway_received", goaway_received_},
          {"open_local_streams", local_open_},
          {"max_concurrent_streams", maxConcurrentStreams()},
          {"peer_connection_window", peerConnectionWindow()},
          {"unconsumed_bytes", total_unconsumed_},
          {"output_buffer_bytes", outputBufferBytes()},
          {"nghttp2_memory_bytes", allocator_.bytesInUse()},
          {"nghttp2_peak_memory_bytes", allocator_.peakBytes()},
          {"streams", std::move(streams)}};
}

void Session::InboundFrames::feed(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    size_t n;
    if (preface_left > 0) {
      n = std::min(preface_left, bytes.size());
      preface_left -= n;
    } else if (payload_left > 0) {
      n = std::min(payload_left, bytes.size());
      payload_left -= n;
    } else {
      n = std::min(header.size() - header_have, bytes.size());
      std::memcpy(header.data() + header_have, bytes.data(), n);
      header_have += n;
      if (header_have == header.size()) {  // RFC 9113 §4.1: a 24-bit payload length first
        payload_left = (size_t{header[0]} << 16) | (size_t{header[1]} << 8) | header[2];
        header_have = 0;
      }
    }
    bytes = bytes.subspan(n);
  }
}

Result<SessionState> Session::exportState() const {
  auto refuse = [](std::string why) {
    return fail(
        Error(ErrorCode::kUnavailable, "http2: the session cannot be exported now: " + why));
  };
  nghttp2_session* s = session_.get();
  if (dead_ || local_error_) return refuse("it has failed");
  if (goaway_submitted_ || goaway_received_) return refuse("it is going away");
  if (size_t n = outputBufferBytes(); n > 0) {
    return refuse(std::to_string(n) + " bytes of frames wait for the transport");
  }
  if (size_t n = nghttp2_session_get_outbound_queue_size(s); n > 0) {
    return refuse(std::to_string(n) + " frames are queued for sending");
  }
  if (sink_full_) return refuse("a frame waits for room in the transport");
  if (!inbound_.atBoundary()) return refuse("half a frame is received");
  if (ping_deadline_) return refuse("a PING of ours is not answered yet");
  if (header_block_stream_ != 0) {
    return refuse("a header block on stream " + std::to_string(header_block_stream_) +
                  " is half received");
  }
  // What nghttp2 reports are the values the peer acknowledged: until then, its defaults (a
  // window of 65,535, unlimited streams, a 4,096-byte table), which ours differ from in one at
  // least (max_concurrent_streams is never unlimited).
  auto acked = [s](nghttp2_settings_id id) { return nghttp2_session_get_local_settings(s, id); };
  if (acked(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE) != config_.stream_window ||
      acked(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) != config_.max_concurrent_streams ||
      (!config_.hpack_dynamic_table && acked(NGHTTP2_SETTINGS_HEADER_TABLE_SIZE) != 0)) {
    return refuse("the peer has not acknowledged our SETTINGS");
  }
  size_t deflate = nghttp2_session_get_hd_deflate_dynamic_table_size(s);
  size_t inflate = nghttp2_session_get_hd_inflate_dynamic_table_size(s);
  if (deflate > 0 || inflate > 0) {
    return refuse("the HPACK dynamic tables hold " + std::to_string(deflate) + " (ours) and " +
                  std::to_string(inflate) + " (the peer's) bytes");
  }

  SessionState st;
  st.client = role_ == Role::kClient;
  st.next_local_stream = static_cast<StreamId>(nghttp2_session_get_next_stream_id(s));
  st.last_peer_stream = nghttp2_session_get_last_proc_stream_id(s);
  st.send_window = nghttp2_session_get_remote_window_size(s);
  st.receive_window = nghttp2_session_get_local_window_size(s);
  st.peer_initial_window =
      nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
  st.peer_max_frame_size = nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_FRAME_SIZE);
  st.peer_max_concurrent_streams =
      nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  for (const auto& [id, stream] : streams_) {
    const std::string which = "stream " + std::to_string(id);
    if (stream.closed) {
      // Its bytes still owe the peer connection-level credit, which nothing here describes.
      if (stream.unconsumed > 0) return refuse(which + " is closed with bytes not consumed");
      continue;
    }
    nghttp2_stream* ns = nghttp2_session_find_stream(s, id);
    if (ns == nullptr) continue;
    if (stream.trailers) return refuse("trailers wait on " + which);
    // Only streams past their header exchange: another engine carries DATA, not a half-made
    // request or response.
    if (stream.local ? !stream.final_response : !stream.responded) {
      return refuse(which + (stream.local ? " has no response yet" : " is not answered yet"));
    }
    StreamState out;
    out.id = id;
    out.local = stream.local;
    nghttp2_stream_proto_state state = nghttp2_stream_get_state(ns);
    out.sent_end = state == NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL;
    out.received_end = state == NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE;
    out.end_requested = stream.end_requested;
    out.send_window = nghttp2_session_get_stream_remote_window_size(s, id);
    out.receive_window = nghttp2_session_get_stream_local_window_size(s, id);
    out.unconsumed = stream.unconsumed;
    out.queued.reserve(stream.send.size());
    for (auto piece : stream.send.front(stream.send.size())) {
      out.queued.insert(out.queued.end(), piece.begin(), piece.end());
    }
    st.streams.push_back(std::move(out));
  }
  std::sort(st.streams.begin(), st.streams.end(),
            [](const StreamState& a, const StreamState& b) { return a.id < b.id; });
  return st;
}

Session::Stream* Session::find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

const Session::Stream* Session::find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

void Session::resumeIfDeferred(StreamId id, Stream& s) {
  if (s.provider_attached && s.deferred) {
    s.deferred = false;
    nghttp2_session_resume_data(session_.get(), id);
  }
}

void Session::eraseIfDone(StreamId id) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.closed && it->second.unconsumed == 0) {
    streams_.erase(it);
  }
}

void Session::flushNotifications() {
  if (writable_notify_.empty()) return;
  std::vector<StreamId> ids;
  ids.swap(writable_notify_);
  for (StreamId id : ids) {
    const Stream* s = find(id);
    if (s != nullptr && !s->closed) callbacks_.onStreamWritable(id);
  }
}

void Session::markClosed(StreamId id, uint32_t error_code) {
  if (header_block_stream_ == id) header_block_stream_ = 0;  // its block is ignored now
  Stream* s = find(id);
  if (s == nullptr || s->closed) return;
  s->closed = true;
  s->send.clear();
  s->headers.clear();
  if (s->local) --local_open_;
  bool announced = s->announced && !s->silent;
  if (announced) callbacks_.onStreamClose(id, error_code);
  eraseIfDone(id);  // the callback may have consumed the rest
}

}  // namespace warren::http2
