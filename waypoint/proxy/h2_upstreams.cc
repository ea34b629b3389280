#include "waypoint/proxy/h2_upstreams.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace warren::waypoint {

// One h2c connection to one endpoint: the session's client side, and the streams on it.
class H2UpstreamConnection final : public std::enable_shared_from_this<H2UpstreamConnection>,
                                   private http2::SessionCallbacks {
 public:
  H2UpstreamConnection(H2Upstreams& pool, UpstreamChoice choice)
      : pool_(pool), choice_(std::move(choice)) {}
  ~H2UpstreamConnection() override { stopIdleTimer(); }

  struct Pending {
    net::SocketAddress client;
    http2::HeaderList headers;
    std::weak_ptr<UpstreamStreamEvents> events;
    H2Upstreams::Opened opened;
  };

  void connect(const net::SocketAddress& client) {
    std::weak_ptr<H2UpstreamConnection> weak = shared_from_this();
    pool_.upstreams_.open(choice_, client, [weak](Result<std::unique_ptr<relay::ByteStream>> s) {
      if (auto self = weak.lock()) self->onTunnel(std::move(s));
    });
  }

  void enqueue(Pending p) {
    pending_.push_back(std::move(p));
    if (channel_) openPending();
  }

  // New requests go elsewhere (GOAWAY received or sent, or the connection failed).
  bool retired() const { return retired_; }
  size_t streamCount() const { return streams_.size(); }
  size_t pendingCount() const { return pending_.size(); }
  const UpstreamChoice& choice() const { return choice_; }
  http2::Session& session() { return channel_->session(); }
  void flush() {
    if (channel_) channel_->flush();
  }
  bool isOpen(http2::StreamId id) const { return streams_.contains(id); }
  bool live() const { return channel_ != nullptr; }
  void resetIfOpen(http2::StreamId id, uint32_t code) {
    if (!streams_.contains(id) || !channel_) return;
    streams_[id].reset();  // no more events for it
    (void)channel_->session().resetStream(id, code);
    channel_->flush();
  }
  void shutdown(const std::string& why) { die(why); }

 private:
  void onTunnel(Result<std::unique_ptr<relay::ByteStream>> s) {
    if (retired_) return;
    if (!s) {
      die(s.error().message());
      return;
    }
    std::weak_ptr<H2UpstreamConnection> weak = shared_from_this();
    auto channel = H2Channel::create(
        pool_.loop_, http2::Role::kClient, H2Channel::innerConfig(pool_.config_), *this,
        std::make_unique<StreamConduit>(std::move(*s), nullptr), [weak](const std::string& why) {
          if (auto self = weak.lock()) self->die(why);
        });
    if (!channel) {
      die(channel.error().message());
      return;
    }
    channel_ = std::move(*channel);
    ++pool_.opened_;
    channel_->start();
    openPending();
  }

  void openPending() {
    auto keep = shared_from_this();
    while (!pending_.empty() && channel_ && !retired_ && channel_->session().canOpenStream()) {
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      auto events = p.events.lock();
      if (!events) continue;  // the request ended while it waited
      auto id = channel_->session().openStream(p.headers, events->requestBody());
      if (!id) {
        p.opened(warren::fail(id.error()));
        continue;
      }
      streams_[*id] = p.events;
      ++pool_.streams_;
      stopIdleTimer();
      p.opened(std::make_unique<H2UpstreamStream>(keep, *id));
      channel_->flush();
    }
    if (channel_ && !retired_ && channel_->session().goingAway()) retire();
  }

  // GOAWAY either way: streams in flight finish here, new requests get a new connection.
  void retire() {
    if (retired_) return;
    retired_ = true;
    pool_.connectionGone(this);
    if (streams_.empty() && channel_) channel_->goAway();  // closes once flushed
    auto waiting = std::move(pending_);
    pending_.clear();
    for (auto& p : waiting) {
      if (p.events.expired()) continue;
      pool_.loop_.post([pool = &pool_, alive = std::weak_ptr<bool>(pool_.alive_), choice = choice_,
                        p = std::move(p)]() mutable {
        if (alive.expired()) return;
        pool->open(choice, p.client, std::move(p.headers), p.events, std::move(p.opened));
      });
    }
  }

  // The connection is gone (or could not be had): every request on or waiting for it is told.
  void die(const std::string& why) {
    auto keep = shared_from_this();
    bool was_retired = retired_;
    retired_ = true;
    stopIdleTimer();
    auto waiting = std::move(pending_);
    pending_.clear();
    auto streams = std::move(streams_);
    streams_.clear();
    if (channel_) {
      channel_->close();
      // Destroyed later: this may run inside the channel's own call stack.
      pool_.loop_.post([gone = std::shared_ptr<H2Channel>(std::move(channel_))] {});
    }
    // Out of the pool first: a request that retries elsewhere must not find this one.
    if (!was_retired) pool_.connectionGone(this);
    pool_.draining_.erase(this);
    Error e(ErrorCode::kUnavailable, fmt::format("h2c to {}: {}", choice_.address.toString(), why));
    for (auto& p : waiting)
      if (!p.events.expired()) p.opened(warren::fail(e));
    for (auto& [id, ev] : streams)
      if (auto e2 = ev.lock()) e2->onUpstreamClosed(http2::kConnectError, e.message(), false);
  }

  void streamsChanged() {
    if (!streams_.empty() || !pending_.empty() || retired_) return;
    stopIdleTimer();
    std::weak_ptr<H2UpstreamConnection> weak = shared_from_this();
    idle_timer_ = pool_.loop_.timeout(H2Upstreams::kIdleTimeout, [weak](int res) {
      auto self = weak.lock();
      if (!self || res != 0) return;
      self->idle_timer_ = 0;
      if (!self->streams_.empty() || !self->channel_) return;
      self->retire();  // GOAWAY: closes once flushed; die() then drops it
    });
  }
  void stopIdleTimer() {
    if (idle_timer_) pool_.loop_.cancel(idle_timer_);
    idle_timer_ = 0;
  }

  std::shared_ptr<UpstreamStreamEvents> events(http2::StreamId id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.lock();
  }

  // http2::SessionCallbacks (client side: no requests arrive)
  void onRequest(http2::StreamId id, const http2::HeaderList&) override {
    (void)channel_->session().resetStream(id, http2::kRefusedStream);
  }
  void onResponse(http2::StreamId id, int status, const http2::HeaderList& headers) override {
    if (auto e = events(id)) e->onUpstreamResponse(status, headers);
  }
  void onData(http2::StreamId id, std::span<const uint8_t> data) override {
    if (auto e = events(id)) {
      e->onUpstreamData(data);
    } else {
      channel_->session().consume(id, data.size());  // nobody wants it: drop and credit
    }
  }
  void onTrailers(http2::StreamId id, const http2::HeaderList& trailers) override {
    if (auto e = events(id)) e->onUpstreamTrailers(trailers);
  }
  void onEndOfStream(http2::StreamId id) override {
    if (auto e = events(id)) e->onUpstreamEnd();
  }
  void onStreamClose(http2::StreamId id, uint32_t code) override {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto e = it->second.lock();
    streams_.erase(it);
    if (e)
      e->onUpstreamClosed(code,
                          code ? fmt::format("upstream reset the stream (code {})", code) : "",
                          code == http2::kRefusedStream);
    if (retired_ && streams_.empty() && channel_) channel_->goAway();
    openPending();
    streamsChanged();
  }
  void onStreamWritable(http2::StreamId id) override {
    if (auto e = events(id)) e->onUpstreamWritable();
  }
  void onGoAway(uint32_t, uint32_t) override { retire(); }

  H2Upstreams& pool_;
  UpstreamChoice choice_;
  std::unique_ptr<H2Channel> channel_;
  std::deque<Pending> pending_;
  std::map<http2::StreamId, std::weak_ptr<UpstreamStreamEvents>> streams_;
  bool retired_ = false;
  uring::OpId idle_timer_ = 0;
};

// ---- the stream handle ------------------------------------------------------------------------

H2UpstreamStream::~H2UpstreamStream() { reset(); }

size_t H2UpstreamStream::writableBytes() const {
  return conn_->isOpen(id_) ? conn_->session().writableBytes(id_) : 0;
}

size_t H2UpstreamStream::write(std::span<const uint8_t> data) {
  if (!conn_->isOpen(id_)) return 0;
  auto n = conn_->session().writeData(id_, data);
  conn_->flush();
  return n ? *n : 0;
}

void H2UpstreamStream::end() {
  if (!conn_->isOpen(id_)) return;
  (void)conn_->session().closeWrite(id_);
  conn_->flush();
}

void H2UpstreamStream::endWithTrailers(const http2::HeaderList& t) {
  if (!conn_->isOpen(id_)) return;
  (void)conn_->session().sendTrailers(id_, t);
  conn_->flush();
}

void H2UpstreamStream::consume(size_t n) {
  if (n == 0 || !conn_->live()) return;  // after the stream closed: still the connection's window
  conn_->session().consume(id_, n);
  conn_->flush();
}

void H2UpstreamStream::reset(uint32_t code) {
  if (done_) return;
  done_ = true;
  conn_->resetIfOpen(id_, code);
}

// ---- the pool ---------------------------------------------------------------------------------

H2Upstreams::H2Upstreams(uring::EventLoop& loop, Upstreams& upstreams,
                         const http2::SessionConfig& config)
    : loop_(loop), upstreams_(upstreams), config_(config) {}

H2Upstreams::~H2Upstreams() {
  *alive_ = false;
  closeAll();
}

void H2Upstreams::open(const UpstreamChoice& choice, const net::SocketAddress& client,
                       http2::HeaderList headers, std::weak_ptr<UpstreamStreamEvents> events,
                       Opened opened) {
  H2UpstreamConnection::Pending p{client, std::move(headers), std::move(events), std::move(opened)};
  auto it = by_endpoint_.find(choice.key());
  if (it != by_endpoint_.end() && !it->second->retired()) {
    // Never from inside the caller's call stack (it may be in a session callback).
    loop_.post([conn = std::weak_ptr<H2UpstreamConnection>(it->second), pool = this,
                alive = std::weak_ptr<bool>(alive_), choice, client, p = std::move(p)]() mutable {
      if (alive.expired()) return;
      if (auto c = conn.lock(); c && !c->retired()) {
        c->enqueue(std::move(p));
      } else {
        pool->open(choice, client, std::move(p.headers), p.events, std::move(p.opened));
      }
    });
    return;
  }
  // The tunnel of a shared connection carries the `forwarded: for=` of the request that opened
  // it; each request names its own client in x-forwarded-for.
  auto conn = std::make_shared<H2UpstreamConnection>(*this, choice);
  by_endpoint_[choice.key()] = conn;
  conn->enqueue(std::move(p));
  conn->connect(client);
}

void H2Upstreams::connectionGone(H2UpstreamConnection* c) {
  auto it = by_endpoint_.find(c->choice().key());
  if (it == by_endpoint_.end() || it->second.get() != c) return;
  // Streams still open on it finish there; it is kept until its channel closes (die()).
  draining_[c] = it->second;
  by_endpoint_.erase(it);
}

void H2Upstreams::closeAll() {
  auto all = std::move(by_endpoint_);
  by_endpoint_.clear();
  auto draining = std::move(draining_);
  draining_.clear();
  for (auto& [k, c] : all) c->shutdown("waypoint stopping");
  for (auto& [k, c] : draining) c->shutdown("waypoint stopping");
}

nlohmann::json H2Upstreams::toJson() const {
  nlohmann::json conns = nlohmann::json::object();
  for (const auto& [key, c] : by_endpoint_)
    conns[key] = {{"streams", c->streamCount()}, {"waiting", c->pendingCount()}};
  return {{"h2_connections", conns},
          {"h2_connections_draining", draining_.size()},
          {"h2_connections_opened", opened_},
          {"h2_streams_opened", streams_}};
}

}  // namespace warren::waypoint
