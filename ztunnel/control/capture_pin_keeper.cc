#include "ztunnel/control/capture_pin_keeper.h"

namespace warren::ztunnel {

CapturePinKeeper::CapturePinKeeper(std::string run_dir, std::chrono::milliseconds interval)
    : interval_(interval), keeper_(std::move(run_dir), "ztunnel") {}

CapturePinKeeper::~CapturePinKeeper() { stop(); }

void CapturePinKeeper::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void CapturePinKeeper::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CapturePinKeeper::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    (void)keeper_.pass();  // counted and logged by the keeper (once per repair or new failure)
    lock.lock();
    published_ = keeper_.state();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

nlohmann::json CapturePinKeeper::toJson() const {
  std::lock_guard lock(mu_);
  const redirect::PinKeeperState& s = published_;
  return {{"pin_dir", s.pin_dir},
          {"agent_alive", s.agent_alive},
          {"held", {{"links", s.held_links}, {"maps", s.held_maps}}},
          {"passes", s.passes},
          {"restored", s.repairs.pins_restored},
          {"repairs", s.repairs.repairs},
          {"failures", s.repairs.failures},
          {"last_error", s.repairs.last_error}};
}

}  // namespace warren::ztunnel
