// ztunnel's second hold on the node's eBPF capture (bpf/loader/pin_keeper.h): a thread that runs
// a PinKeeper over the agent's pin dir (found through <run-dir>/bpf_pin_dir) every 2 s. While
// ztunnel lives, the links stay attached even with no agent running and their pins removed by
// hand, and the pins come back; with an agent alive it only holds (the agent repairs its own
// pins). Its state is `capture_pins` in /config_dump.
//
// Threading: one thread of its own runs every pass; toJson() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "bpf/loader/pin_keeper.h"

namespace warren::ztunnel {

class CapturePinKeeper {
 public:
  // 2 s: the agent's own re-sync period, so a removed pin is back as soon with either holder.
  static constexpr std::chrono::milliseconds kDefaultInterval{2000};

  explicit CapturePinKeeper(std::string run_dir,
                            std::chrono::milliseconds interval = kDefaultInterval);
  ~CapturePinKeeper();

  void start();  // the first pass runs at once
  void stop();

  // {pin_dir, agent_alive, held: {links, maps}, passes, restored, repairs, failures, last_error}
  nlohmann::json toJson() const;

 private:
  void run();

  const std::chrono::milliseconds interval_;
  redirect::PinKeeper keeper_;  // the thread's alone
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  redirect::PinKeeperState published_;  // under mu_, after each pass
  std::thread thread_;
};

}  // namespace warren::ztunnel
