#include "mesh/hbone/hbone_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "common/tls/kernel_tls.h"

namespace warren::mesh {
namespace {

// One socket read at a time, of at most this many ciphertext bytes.
constexpr size_t kReadChunk = 64 * 1024;
// Decryption buffer: four full TLS records per feed() call.
constexpr size_t kPlaintextBuffer = 4 * tls::TlsEngine::kMaxRecordPlaintext;

}  // namespace

tls::TlsEngineOptions HboneConnection::engineOptions() {
  return {.own_records_at_handshake = !tls::kernelTlsWanted()};
}

Result<std::shared_ptr<HboneConnection>> HboneConnection::create(
    uring::EventLoop& loop, UniqueFd fd, tls::TlsEngine tls, http2::Role role,
    const http2::SessionConfig& config, OnRequest on_request, OnClosed on_closed) {
  std::shared_ptr<HboneConnection> c(new HboneConnection(loop, std::move(fd), std::move(tls),
                                                         std::move(on_request),
                                                         std::move(on_closed)));
  // Without HPACK dynamic tables: the session's state can then be exported (exportState).
  http2::SessionConfig exportable = config;
  exportable.hpack_dynamic_table = false;
  auto session = http2::Session::create(role, exportable, *c, http2::Clock::now());
  if (!session) return fail(session.error().wrap("HTTP/2 session"));
  c->session_ = std::move(*session);
  c->session_->setFrameSink(c.get());  // before start(): the preface and SETTINGS go there too
  return c;
}

HboneConnection::HboneConnection(uring::EventLoop& loop, UniqueFd fd, tls::TlsEngine tls,
                                 OnRequest on_request, OnClosed on_closed)
    : loop_(loop),
      socket_(loop, std::move(fd)),
      tls_(std::move(tls)),
      on_request_(std::move(on_request)),
      on_closed_(std::move(on_closed)),
      plaintext_(kPlaintextBuffer) {}

HboneConnection::~HboneConnection() { socket_.close(); }

size_t HboneConnection::bufferedBytes() const {
  size_t n = session_->outputBufferBytes() + tls_.pendingOutput().size();
  for (const auto& [id, h] : handlers_) {
    n += session_->unconsumedBytes(id) + session_->bufferedSendBytes(id);
  }
  return n;
}

size_t HboneConnection::heldCapacity() const {
  return session_->outputCapacity() + tls_.bufferCapacity() + spare_.capacity();
}

void HboneConnection::releaseIdleMemory() {
  if (writing_ || !handlers_.empty() || heldCapacity() <= kIdleKeep) return;
  session_->releaseIdleMemory();
  tls_.releaseIdleMemory();
  uring::Buffer().swap(spare_);
}

void HboneConnection::start() {
  started_ = true;
  self_ = shared_from_this();
  socket_.setEvents(this);
  readMore();
  flush();
  armTimer();
}

bool HboneConnection::canOpenStream() const {
  return !closed_ && !tls_.failed() && session_->canOpenStream();
}

Result<StreamId> HboneConnection::openStream(const http2::HeaderList& headers,
                                             std::shared_ptr<StreamHandler> handler) {
  if (closed_) return fail(Error(ErrorCode::kUnavailable, "connection closed"));
  auto id = session_->openStream(headers);
  if (!id) return id;
  handlers_[*id] = std::move(handler);
  streamsChanged();
  flush();
  return id;
}

void HboneConnection::attach(StreamId id, std::shared_ptr<StreamHandler> handler) {
  handlers_[id] = std::move(handler);
  streamsChanged();
}

void HboneConnection::drainWhenIdleFor(std::chrono::milliseconds idle) {
  idle_limit_ = idle;
  streamsChanged();
}

void HboneConnection::streamsChanged() {
  releaseIdleMemory();
  if (closed_ || idle_limit_.count() <= 0) return;
  if (!handlers_.empty()) {
    if (idle_timer_ != 0) loop_.cancel(idle_timer_);
    idle_timer_ = 0;
    return;
  }
  if (idle_timer_ != 0) return;  // already counting
  std::weak_ptr<HboneConnection> weak = shared_from_this();
  idle_timer_ = loop_.timeout(idle_limit_, [weak](int res) {
    auto self = weak.lock();
    if (!self) return;
    self->idle_timer_ = 0;
    if (res == -ECANCELED || self->closed_ || !self->handlers_.empty()) return;
    spdlog::debug("HBONE {}: no stream for {} ms, draining", self->peer_.toString(),
                  self->idle_limit_.count());
    self->drain();
  });
}

StreamHandler* HboneConnection::handler(StreamId id) {
  auto it = handlers_.find(id);
  return it == handlers_.end() ? nullptr : it->second.get();
}

void HboneConnection::readMore() {
  if (closed_ || reading_) return;
  reading_ = true;
  socket_.read(kReadChunk);
}

void HboneConnection::onData(std::span<const char> data) {
  reading_ = false;
  if (closed_) return;
  auto self = shared_from_this();  // a handler may close us during dispatch
  std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  bool handshake_was_done = tls_.handshakeDone();
  // Until the record layer is settled, what dispatch() answers waits in the session's output
  // buffer, not staged in the engine: staged plaintext is no boundary to hand the records to the
  // kernel at (settleRecordLayer), and a bulk receiver answers nearly every read. flush() sends
  // the buffer first.
  if (!records_settled_) session_->setFrameSink(nullptr);
  flushing_ = true;  // flush() waits until the session is out of dispatch()
  while (!closed_) {
    auto fed = tls_.feed(in, plaintext_);
    if (!fed) {
      flushing_ = false;
      // Best effort: the engine may hold an alert for the peer.
      close("TLS: " + fed.error().message());
      return;
    }
    in = in.subspan(fed->consumed);
    if (fed->plaintext > 0) {
      auto s = session_->dispatch({plaintext_.data(), fed->plaintext});
      if (!s) {
        flushing_ = false;
        session_->setFrameSink(this);
        flush();  // the GOAWAY saying why
        close("HTTP/2: " + s.error().message());
        return;
      }
    }
    if (fed->peer_closed) break;
    if (in.empty() && !tls_.hasBufferedPlaintext()) break;
    if (fed->consumed == 0 && fed->plaintext == 0) break;  // no progress: wait for more
  }
  flushing_ = false;
  session_->setFrameSink(this);
  if (closed_) return;
  if (!handshake_was_done && tls_.handshakeDone()) {
    spdlog::debug("HBONE {}: TLS up, peer {}", peer_.toString(),
                  tls_.peerIdentity() ? tls_.peerIdentity()->uri() : "-");
  }
  if (tls_.peerClosed()) {
    close("peer sent close_notify");
    return;
  }
  if (!records_settled_ && tls_.handshakeDone() && in.empty()) {
    settleRecordLayer();
    if (closed_) return;
  }
  flush();
  maybeFinish();
  readMore();
}

void HboneConnection::settleRecordLayer() {
  if (tls_.ownRecordLayer()) {  // taken as the handshake completed (engineOptions)
    records_settled_ = true;
    return;
  }
  if (tls::kernelTlsWanted()) {
    // No read is in flight here (onData); no write may be either: every record OpenSSL sealed
    // must be on the wire before the kernel seals the next one.
    if (writing_ || !tls_.pendingOutput().empty()) return;
    auto state = tls_.exportRecordState();
    if (!state) {
      notAtRecordBoundary(state.error());
      return;
    }
    auto installed = tls::installKernelTls(socket_.fd(), *state);
    tls::cleanse(*state);
    if (installed) {
      records_settled_ = true;
      if (auto st = tls_.handOverRecordLayer(); !st) {
        close("kernel TLS: " + st.error().message());
        return;
      }
      socket_.sendThroughKernelTls();
      spdlog::debug("HBONE {}: the kernel carries the TLS records", peer_.toString());
      return;
    }
    if (installed.error().code() != ErrorCode::kUnavailable) {
      close("kernel TLS: " + installed.error().message());
      return;
    }
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {
      spdlog::info("kernel TLS unavailable ({}): HBONE records stay in user space",
                   installed.error().message());
    }
  }
  if (auto own = tls_.useOwnRecordLayer(); !own) {
    notAtRecordBoundary(own.error());
    return;
  }
  records_settled_ = true;
}

Result<HboneConnection::State> HboneConnection::exportState() const {
  auto refuse = [](const std::string& why) {
    return fail(
        Error(ErrorCode::kUnavailable, "HBONE: the connection cannot be exported now: " + why));
  };
  if (closed_) return refuse("it is closed");
  if (!records_settled_) return refuse("the record layer is not settled yet");
  if (writing_) return refuse("a write to the socket is in flight");
  auto session = session_->exportState();
  if (!session) return fail(std::move(session).error());
  auto records = tls_.exportRecordState();
  if (!records) return refuse(records.error().message());
  return State{std::move(*records), std::move(*session)};
}

void HboneConnection::notAtRecordBoundary(const Error& why) {
  // Half a record received, say: a later read tries again, up to 16 times.
  if (++settle_tries_ < 16) return;
  records_settled_ = true;
  spdlog::debug("HBONE {}: records stay with OpenSSL: {}", peer_.toString(), why.message());
}

void HboneConnection::onReadEof() {
  reading_ = false;
  close("peer closed the connection");
}

void HboneConnection::onError(const Error& error) {
  reading_ = false;
  writing_ = false;
  close(error.message());
}

void HboneConnection::onWritten(size_t, uring::Buffer spent) {
  writing_ = false;
  spent.clear();
  spare_ = std::move(spent);
  flush();
  releaseIdleMemory();
  maybeFinish();
}

// onWritten sends what the engines produced while the write was in flight, and closes a
// finished session.
bool HboneConnection::waitsForWrite() {
  return !closed_ &&
         (!tls_.pendingOutput().empty() || session_->wantsWrite() || session_->isClosed());
}

void HboneConnection::flush() {
  // Before start() the socket may still be connecting: output waits in the engines.
  if (closed_ || flushing_ || !started_) return;
  flushing_ = true;
  // With a send in flight nothing waits on a stream's short tail: it goes once the send is
  // done (onWritten), so the frames before it fill whole records (Session::setCork).
  session_->setCork(writing_);
  // HTTP/2 frames -> TLS records, as far as the engine takes them (takeFrame): a DATA frame's
  // payload is encrypted from the stream's send buffer into the buffer that is sent. When the
  // engine is full the rest waits in the streams until the socket drained (onWritten).
  if (!tls_.failed()) session_->sendFrames();
  if (!tls_.failed()) (void)tls_.flush();
  flushing_ = false;
  if (writing_) return;
  if (tls_.pendingOutput().empty()) return;
  // The engine's output buffer itself goes to the socket; the last send's buffer takes its place.
  writing_ = true;
  socket_.write(tls_.takeOutput(std::move(spare_)));
  // Bytes left the session: streams may take more now.
}

bool HboneConnection::takeFrame(std::span<const std::span<const uint8_t>> pieces) {
  auto taken = tls_.writeMessage(pieces);
  return taken && *taken;  // a failed engine takes nothing more; flush() sees tls_.failed()
}

void HboneConnection::armTimer() {
  if (closed_ || timer_ != 0) return;
  auto next = session_->nextTimer();
  if (!next) return;
  auto delay = std::max(*next - http2::Clock::now(), http2::Clock::duration::zero());
  std::weak_ptr<HboneConnection> weak = shared_from_this();
  timer_ = loop_.timeout(delay, [weak](int res) {
    auto self = weak.lock();
    if (!self) return;
    self->timer_ = 0;
    if (res == -ECANCELED || self->closed_) return;
    if (auto s = self->session_->onTimer(http2::Clock::now()); !s) {
      self->close("HTTP/2 keep-alive: " + s.error().message());
      return;
    }
    self->flush();
    self->armTimer();
  });
}

void HboneConnection::maybeFinish() {
  if (closed_) return;
  if (session_->isClosed() && !writing_ && tls_.pendingOutput().empty()) close("session done");
}

void HboneConnection::drain() {
  if (closed_) return;
  session_->goAway();
  flush();
  maybeFinish();
}

void HboneConnection::close(const std::string& why) {
  if (closed_) return;
  // Best effort: an alert or GOAWAY still in the engine goes out before the socket closes.
  if (started_ && !writing_ && !tls_.pendingOutput().empty()) {
    auto pending = tls_.pendingOutput();
    (void)::send(socket_.fd(), pending.data(), pending.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  closed_ = true;
  spdlog::debug("HBONE connection {} closed: {}", peer_.toString(), why);
  if (timer_ != 0) loop_.cancel(timer_);
  if (idle_timer_ != 0) loop_.cancel(idle_timer_);
  socket_.close();
  auto handlers = std::move(handlers_);
  handlers_.clear();
  for (auto& [id, h] : handlers) h->onClose(http2::kInternalError, why);
  if (on_closed_) on_closed_(this);
  // Release the self reference after this call stack unwinds.
  loop_.post([self = std::move(self_)] {});
}

// --- http2::SessionCallbacks

void HboneConnection::onRequest(StreamId id, const http2::HeaderList& headers) {
  if (on_request_) {
    on_request_(shared_from_this(), id, headers);
  } else {
    (void)session_->resetStream(id, http2::kRefusedStream);
  }
}

void HboneConnection::onResponse(StreamId id, int status, const http2::HeaderList&) {
  if (auto* h = handler(id)) h->onResponse(status);
}

void HboneConnection::onData(StreamId id, std::span<const uint8_t> data) {
  if (auto* h = handler(id)) {
    h->onData(data);
  } else {
    session_->consume(id, data.size());  // nobody wants it: credit the window back
  }
}

void HboneConnection::onEndOfStream(StreamId id) {
  if (auto* h = handler(id)) h->onEndOfStream();
}

void HboneConnection::onStreamClose(StreamId id, uint32_t error_code) {
  auto it = handlers_.find(id);
  if (it == handlers_.end()) return;
  auto h = std::move(it->second);
  handlers_.erase(it);
  h->onClose(error_code, error_code == 0 ? "" : "stream reset, code " + std::to_string(error_code));
  streamsChanged();
}

void HboneConnection::onStreamWritable(StreamId id) {
  if (auto* h = handler(id)) h->onWritable();
}

void HboneConnection::onGoAway(uint32_t last_stream_id, uint32_t error_code) {
  spdlog::debug("HBONE {}: GOAWAY last stream {} code {}", peer_.toString(), last_stream_id,
                error_code);
}

}  // namespace warren::mesh
