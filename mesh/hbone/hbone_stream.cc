#include "mesh/hbone/hbone_stream.h"

#include <cstring>

namespace warren::mesh {

struct HboneStream::State final : StreamHandler, std::enable_shared_from_this<State> {
  std::shared_ptr<HboneConnection> conn;
  StreamId id = 0;
  relay::StreamEvents* events = nullptr;
  OnResponse on_response;

  // Received, not yet given to the relay.
  std::vector<uint8_t> inbound;
  size_t inbound_head = 0;
  bool peer_ended = false;  // END_STREAM arrived
  bool eof_delivered = false;
  size_t read_max = 0;  // a read is outstanding for at most this many bytes
  bool delivery_posted = false;

  // Being handed to the session.
  uring::Buffer outbound;
  size_t outbound_offset = 0;
  bool writing = false;
  bool room_wanted = false;  // writeRoom() answered 0: tell the relay (onWritable) on room
  bool shutdown_pending = false;
  bool write_closed = false;

  bool stream_closed = false;
  bool closed = false;  // close() called: no more events
  std::optional<Error> error;

  size_t buffered() const { return inbound.size() - inbound_head; }

  void post() {
    if (delivery_posted || closed) return;
    delivery_posted = true;
    conn->loop().post([self = shared_from_this()] { self->deliver(); });
  }

  // Runs from the loop: answers the outstanding read, reports an error or EOF.
  void deliver() {
    delivery_posted = false;
    if (closed || !events) return;
    if (error) {
      auto e = *error;
      error.reset();
      read_max = 0;
      events->onError(e);
      return;
    }
    if (read_max == 0) return;
    if (buffered() > 0) {
      size_t n = std::min(read_max, buffered());
      read_max = 0;
      std::span<const char> data(reinterpret_cast<const char*>(inbound.data() + inbound_head), n);
      inbound_head += n;
      events->onData(data);  // may close us
      // Taken, so credited, also when the relay then closed us (close() credits what is left).
      if (!conn->closed()) conn->session().consume(id, n);
      if (closed) return;
      if (inbound_head == inbound.size()) {
        inbound.clear();
        inbound_head = 0;
      } else if (inbound_head > inbound.size() / 2) {
        inbound.erase(inbound.begin(), inbound.begin() + static_cast<ptrdiff_t>(inbound_head));
        inbound_head = 0;
      }
      if (!conn->closed()) conn->flush();
      return;
    }
    if (peer_ended && !eof_delivered) {
      eof_delivered = true;
      read_max = 0;
      events->onReadEof();
    }
  }

  // writeNow() may hand bytes to the session now: open both ways, bound, and no write()
  // before them still going out.
  bool takesNow() const {
    return !closed && !writing && !stream_closed && !write_closed && !error && id != 0;
  }

  // What the session's send buffer takes of `bytes` (write() and writeNow()); nullopt after a
  // failure, which is reported.
  std::optional<size_t> queue(std::span<const char> bytes) {
    auto taken = conn->session().writeData(
        id, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
    if (!taken) {
      fail(taken.error());
      return std::nullopt;
    }
    return *taken;
  }

  void pushWrite() {
    if (!writing || closed) return;
    while (outbound_offset < outbound.size()) {
      auto taken = queue(std::span<const char>(outbound).subspan(outbound_offset));
      if (!taken) return;
      if (*taken == 0) break;  // full: onWritable resumes
      outbound_offset += *taken;
    }
    conn->flush();
    if (outbound_offset < outbound.size()) return;
    writing = false;
    size_t n = outbound.size();
    auto buf = std::move(outbound);
    outbound_offset = 0;
    if (shutdown_pending) doShutdown();
    conn->loop().post([self = shared_from_this(), n, buf = std::move(buf)]() mutable {
      if (!self->closed && self->events) self->events->onWritten(n, std::move(buf));
    });
  }

  void doShutdown() {
    shutdown_pending = false;
    if (write_closed || stream_closed) return;
    write_closed = true;
    if (auto s = conn->session().closeWrite(id); !s) fail(s.error());
    conn->flush();
  }

  void fail(const Error& e) {
    if (!error) error = e;
    post();
  }

  // --- StreamHandler (called by the connection, possibly inside the session's dispatch)
  void onResponse(int status) override {
    if (on_response) {
      auto fn = std::move(on_response);
      on_response = nullptr;
      conn->loop().post([fn = std::move(fn), status] { fn(status, "", false); });
    }
  }
  void onData(std::span<const uint8_t> data) override {
    // Straight to the relay when it waits for bytes and none are queued before these (this
    // runs from the connection's dispatch, never inside a call of the relay's): one copy, into
    // the relay's send buffer, instead of two, and no posted task per DATA frame.
    if (read_max > 0 && buffered() == 0 && !delivery_posted && !error && !closed && events) {
      auto keep = shared_from_this();
      size_t n = std::min(read_max, data.size());
      read_max = 0;
      events->onData({reinterpret_cast<const char*>(data.data()), n});  // may close us
      // Credit what was taken (flushed after the dispatch); when the relay closed us, all of
      // it: nobody will take the rest, and close() credits only what was queued.
      size_t done = closed ? data.size() : n;
      if (!conn->closed()) conn->session().consume(id, done);
      if (closed) return;
      data = data.subspan(n);
    }
    inbound.insert(inbound.end(), data.begin(), data.end());
    if (read_max > 0 && !data.empty()) post();
  }
  void onEndOfStream() override {
    peer_ended = true;
    if (read_max > 0) post();
  }
  void onWritable() override {
    if (room_wanted) {  // writeRoom() answered 0: the relay waits to read
      room_wanted = false;
      conn->loop().post([self = shared_from_this()] {
        if (!self->closed && self->events) self->events->onWritable();
      });
    }
    if (!writing) return;
    conn->loop().post([self = shared_from_this()] { self->pushWrite(); });
  }
  void onClose(uint32_t error_code, const std::string& why) override {
    stream_closed = true;
    if (on_response) {  // the stream died before its response
      auto fn = std::move(on_response);
      on_response = nullptr;
      bool refused = error_code == http2::kRefusedStream || conn->closed();
      conn->loop().post([fn = std::move(fn), why, refused] {
        fn(0, why.empty() ? "stream closed" : why, refused);
      });
      return;
    }
    bool clean = error_code == 0 && peer_ended && !writing;
    if (!clean) {
      fail(Error(ErrorCode::kUnavailable,
                 "HBONE stream ended: " + (why.empty() ? std::string("reset") : why)));
    } else if (read_max > 0) {
      post();
    }
  }
};

HboneStream::HboneStream(std::shared_ptr<HboneConnection> connection)
    : state_(std::make_shared<State>()) {
  state_->conn = std::move(connection);
}

HboneStream::~HboneStream() { close(); }

std::shared_ptr<StreamHandler> HboneStream::handler() { return state_; }

void HboneStream::bind(StreamId id) { state_->id = id; }

void HboneStream::onResponse(OnResponse fn) { state_->on_response = std::move(fn); }

void HboneStream::releaseAnswered() {
  auto& s = *state_;
  if (s.closed) return;
  s.closed = true;
  s.events = nullptr;
  if (s.conn && s.id != 0) {
    if (!s.conn->closed()) {
      s.conn->session().consume(s.id, s.buffered());  // credit the window back
      s.conn->flush();
    }
    s.conn->detach(s.id);
  }
}

void HboneStream::setEvents(relay::StreamEvents* events) { state_->events = events; }

void HboneStream::read(size_t max_bytes) {
  auto& s = *state_;
  if (s.closed || max_bytes == 0) return;
  s.read_max = max_bytes;
  if (s.buffered() > 0 || s.peer_ended || s.error) s.post();
}

void HboneStream::write(uring::Buffer data) {
  auto& s = *state_;
  if (s.closed) return;
  if (s.stream_closed || s.write_closed) {
    s.fail(Error(ErrorCode::kUnavailable, "write on a finished HBONE stream"));
    return;
  }
  s.outbound = std::move(data);
  s.outbound_offset = 0;
  s.writing = true;
  s.pushWrite();
}

size_t HboneStream::writeRoom() {
  auto& s = *state_;
  // Where writeNow() takes nothing anyway, the relay's own path (write()) reports why.
  if (!s.takesNow()) return SIZE_MAX;
  // Less than one full DATA frame counts as none: a read that small would make a short frame
  // (its own TLS record); the session says when the buffer is down to half.
  size_t room = s.conn->session().writableBytes(s.id);
  if (room > 0 && room >= writeUnit()) return room;
  if (!s.conn->session().notifyWhenWritable(s.id)) return SIZE_MAX;
  s.room_wanted = true;
  return 0;
}

size_t HboneStream::writeNow(std::span<const char> data) {
  auto& s = *state_;
  if (!s.takesNow() || data.empty()) return 0;
  size_t taken = s.queue(data).value_or(0);
  if (taken > 0) s.conn->flush();
  return taken;
}

void HboneStream::shutdownWrite() {
  auto& s = *state_;
  if (s.closed) return;
  if (s.writing) {
    s.shutdown_pending = true;
  } else {
    s.doShutdown();
  }
}

void HboneStream::close() {
  auto& s = *state_;
  if (s.closed) return;
  s.closed = true;
  s.events = nullptr;
  s.on_response = nullptr;
  if (s.conn) {
    if (s.id != 0 && !s.conn->closed()) {
      // Unread bytes go back to the connection window, also when the stream already ended (a
      // reset from the peer while the relay had not taken them): the session keeps them
      // charged to the connection until they are consumed, so a stream that skipped this
      // leaked up to a stream window (4 MiB) of the pooled connection's 16 MiB for good.
      s.conn->session().consume(s.id, s.buffered());
      s.inbound.clear();
      s.inbound_head = 0;
      // The stream ends now, unless it already did.
      if (!s.stream_closed && !(s.write_closed && s.peer_ended)) {
        (void)s.conn->session().resetStream(s.id);
      }
      s.conn->flush();
    }
    if (s.id != 0) s.conn->detach(s.id);
  }
}

size_t HboneStream::writeUnit() const {
  return state_->conn ? state_->conn->session().maxDataFrame() : 0;
}

std::string HboneStream::describe() const {
  return "HBONE stream " + std::to_string(state_->id) + " to " +
         (state_->conn ? state_->conn->peerAddress().toString() : std::string("?"));
}

}  // namespace warren::mesh
