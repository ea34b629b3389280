#include "waypoint/proxy/request_mirrors.h"

#include <spdlog/spdlog.h>

#include "waypoint/proxy/loop_timer.h"

namespace warren::waypoint {

// One copy in flight, whatever carries it.
class RequestMirrors::Copy {
 public:
  virtual ~Copy() = default;
};

// An HTTP/1.1 copy: connecting, then sending and reading until the mirror closes or the limit.
class RequestMirrors::Http1Copy final : public Copy, public ConduitOwner {
 public:
  Http1Copy(RequestMirrors& owner, std::string bytes) : owner_(owner), bytes_(std::move(bytes)) {}
  ~Http1Copy() override {
    if (conduit_) conduit_->close();
  }

  void start(const UpstreamChoice& choice, const net::SocketAddress& client,
             std::chrono::milliseconds limit) {
    timer_.setLoop(&owner_.loop_);
    std::weak_ptr<bool> alive = owner_.alive_;
    timer_.arm(limit, [this, alive] {
      if (alive.lock()) finish(false);
    });
    auto wait = owner_.upstreams_.connect(
        choice, client,
        [this, alive, token = std::weak_ptr<bool>(token_)](
            Result<std::unique_ptr<StreamConduit>> up, bool) {
          if (!alive.lock() || !token.lock() || finished_) return;  // gone, or timed out
          wait_.reset();
          if (!up) {
            spdlog::debug("waypoint: request mirror: {}", up.error().message());
            finish(false);
            return;
          }
          conduit_ = std::move(*up);
          conduit_->setOwner(this);
          conduit_->send(bytes_);
          bytes_.clear();
          bytes_.shrink_to_fit();
          conduit_->wantInput(true);
        },
        /*allow_idle=*/false);
    if (!wait) {  // the Service's queue for a connection is full: the copy is dropped
      spdlog::debug("waypoint: request mirror: {}", wait.error().message());
      finish(false);
      return;
    }
    wait_ = std::move(*wait);
  }

  void onInput() override {
    if (!conduit_) return;
    answered_ = answered_ || !conduit_->input().empty();
    conduit_->input().clear();  // the mirror's answer is discarded
    conduit_->wantInput(true);
  }
  void onInputEnd() override { finish(answered_); }
  void onDrained() override {}
  void onFailed(const Error&) override { finish(false); }

 private:
  void finish(bool answered) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    wait_.reset();  // no longer waiting for a connection
    if (conduit_) conduit_->setOwner(nullptr);
    owner_.done(this, answered);  // destroys this (later, on the loop)
  }

  RequestMirrors& owner_;
  std::string bytes_;
  std::unique_ptr<StreamConduit> conduit_;
  std::unique_ptr<UpstreamWait> wait_;
  LoopTimer timer_;
  bool answered_ = false;
  bool finished_ = false;
  std::shared_ptr<bool> token_ = std::make_shared<bool>(true);
};

// An HTTP/2 copy: a stream on the worker's h2c connection to the mirror endpoint, the request
// written whole, the answer consumed and dropped; reset when `limit` passes first.
class RequestMirrors::H2Copy final : public Copy,
                                     public UpstreamStreamEvents,
                                     public std::enable_shared_from_this<H2Copy> {
 public:
  H2Copy(RequestMirrors& owner, std::string body, std::optional<http2::HeaderList> trailers)
      : owner_(owner), body_(std::move(body)), trailers_(std::move(trailers)) {}

  void start(H2Upstreams& h2, const UpstreamChoice& choice, const net::SocketAddress& client,
             const http2::HeaderList& headers, std::chrono::milliseconds limit) {
    timer_.setLoop(&owner_.loop_);
    std::weak_ptr<H2Copy> weak = weak_from_this();
    timer_.arm(limit, [weak] {
      if (auto self = weak.lock()) self->finish(false);
    });
    h2.open(choice, client, headers, weak, [weak](Result<std::unique_ptr<H2UpstreamStream>> s) {
      auto self = weak.lock();
      if (!self || self->finished_) return;  // the stream (if any) resets
      if (!s) {
        spdlog::debug("waypoint: request mirror: {}", s.error().message());
        self->finish(false);
        return;
      }
      self->stream_ = std::move(*s);
      self->push();
    });
  }

  http2::Body requestBody() override {
    return body_.empty() && !trailers_ ? http2::Body::kNone : http2::Body::kFollows;
  }
  void onUpstreamResponse(int, const http2::HeaderList&) override { answered_ = true; }
  void onUpstreamData(std::span<const uint8_t> data) override {
    if (stream_) stream_->consume(data.size());  // the mirror's answer is discarded
  }
  void onUpstreamTrailers(const http2::HeaderList&) override {}
  void onUpstreamEnd() override {}
  void onUpstreamWritable() override { push(); }
  void onUpstreamClosed(uint32_t code, const std::string&, bool) override {
    finish(answered_ && code == http2::kNoError);
  }

 private:
  void push() {
    if (!stream_ || ended_ || requestBody() == http2::Body::kNone) return;
    while (sent_ < body_.size()) {
      size_t n = stream_->write(
          {reinterpret_cast<const uint8_t*>(body_.data()) + sent_, body_.size() - sent_});
      if (n == 0) return;  // onUpstreamWritable resumes
      sent_ += n;
    }
    ended_ = true;
    if (trailers_) {
      stream_->endWithTrailers(*trailers_);
    } else {
      stream_->end();
    }
  }

  void finish(bool answered) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    stream_.reset();              // resets a stream still open
    owner_.done(this, answered);  // destroys this (later, on the loop)
  }

  RequestMirrors& owner_;
  std::string body_;
  std::optional<http2::HeaderList> trailers_;
  std::unique_ptr<H2UpstreamStream> stream_;
  size_t sent_ = 0;
  LoopTimer timer_;
  bool ended_ = false;
  bool answered_ = false;
  bool finished_ = false;
};

RequestMirrors::RequestMirrors(uring::EventLoop& loop, Upstreams& upstreams)
    : loop_(loop), upstreams_(upstreams) {}

RequestMirrors::~RequestMirrors() {
  *alive_ = false;
  alive_.reset();
  live_.clear();
}

bool RequestMirrors::admit() {
  if (live_.size() >= kMaxInFlight) {
    ++dropped_;
    return false;
  }
  ++sent_;
  return true;
}

bool RequestMirrors::send(const UpstreamChoice& choice, const net::SocketAddress& client,
                          std::string bytes, std::chrono::milliseconds limit) {
  if (!admit()) return false;
  auto copy = std::make_shared<Http1Copy>(*this, std::move(bytes));
  live_[copy.get()] = copy;
  copy->start(choice, client, limit);
  return true;
}

bool RequestMirrors::sendH2(H2Upstreams& h2, const UpstreamChoice& choice,
                            const net::SocketAddress& client, const http2::HeaderList& headers,
                            std::string body, std::optional<http2::HeaderList> trailers,
                            std::chrono::milliseconds limit) {
  if (!admit()) return false;
  auto copy = std::make_shared<H2Copy>(*this, std::move(body), std::move(trailers));
  live_[copy.get()] = copy;
  copy->start(h2, choice, client, headers, limit);
  return true;
}

void RequestMirrors::done(Copy* copy, bool answered) {
  auto it = live_.find(copy);
  if (it == live_.end()) return;
  ++(answered ? answered_ : failed_);
  // Called from the copy's own callbacks: destroyed once they returned.
  loop_.post([gone = std::move(it->second)] {});
  live_.erase(it);
}

void RequestMirrors::closeAll() { live_.clear(); }

nlohmann::json RequestMirrors::toJson() const {
  return {{"sent", sent_},       {"answered", answered_}, {"failed", failed_},
          {"dropped", dropped_}, {"skipped", skipped_},   {"in_flight", live_.size()}};
}

}  // namespace warren::waypoint
