#include "waypoint/proxy/request_mirrors.h"

#include <spdlog/spdlog.h>

#include "waypoint/proxy/loop_timer.h"

namespace warren::waypoint {

// One copy in flight: connecting, then sending and reading until the mirror closes or the limit.
class RequestMirrors::Copy final : public ConduitOwner {
 public:
  Copy(RequestMirrors& owner, std::string bytes) : owner_(owner), bytes_(std::move(bytes)) {}
  ~Copy() override {
    if (conduit_) conduit_->close();
  }

  void start(const UpstreamChoice& choice, const net::SocketAddress& client,
             std::chrono::milliseconds limit) {
    timer_.setLoop(&owner_.loop_);
    std::weak_ptr<bool> alive = owner_.alive_;
    timer_.arm(limit, [this, alive] {
      if (alive.lock()) finish(false);
    });
    owner_.upstreams_.connect(
        choice, client,
        [this, alive, token = std::weak_ptr<bool>(token_)](
            Result<std::unique_ptr<StreamConduit>> up, bool) {
          if (!alive.lock() || !token.lock() || finished_) return;  // gone, or timed out
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
    if (conduit_) conduit_->setOwner(nullptr);
    owner_.done(this, answered);  // destroys this (later, on the loop)
  }

  RequestMirrors& owner_;
  std::string bytes_;
  std::unique_ptr<StreamConduit> conduit_;
  LoopTimer timer_;
  bool answered_ = false;
  bool finished_ = false;
  std::shared_ptr<bool> token_ = std::make_shared<bool>(true);
};

RequestMirrors::RequestMirrors(uring::EventLoop& loop, Upstreams& upstreams)
    : loop_(loop), upstreams_(upstreams) {}

RequestMirrors::~RequestMirrors() {
  *alive_ = false;
  alive_.reset();
  live_.clear();
}

bool RequestMirrors::send(const UpstreamChoice& choice, const net::SocketAddress& client,
                          std::string bytes, std::chrono::milliseconds limit) {
  if (live_.size() >= kMaxInFlight) {
    ++dropped_;
    return false;
  }
  auto copy = std::make_unique<Copy>(*this, std::move(bytes));
  Copy* raw = copy.get();
  live_[raw] = std::move(copy);
  ++sent_;
  raw->start(choice, client, limit);
  return true;
}

void RequestMirrors::done(Copy* copy, bool answered) {
  auto it = live_.find(copy);
  if (it == live_.end()) return;
  ++(answered ? answered_ : failed_);
  // Called from the copy's own callbacks: destroyed once they returned.
  loop_.post([gone = std::shared_ptr<Copy>(std::move(it->second))] {});
  live_.erase(it);
}

void RequestMirrors::closeAll() { live_.clear(); }

nlohmann::json RequestMirrors::toJson() const {
  return {{"sent", sent_},       {"answered", answered_}, {"failed", failed_},
          {"dropped", dropped_}, {"skipped", skipped_},   {"in_flight", live_.size()}};
}

}  // namespace warren::waypoint
