// CapturePinKeeper: ztunnel's thread around bpf/loader's PinKeeper (the rule and the kernel side
// are tested in tests/bpf/pin_keeper_test.cc): it passes on its own, publishes `capture_pins`
// for /config_dump, follows the pin dir the agent publishes, and stops promptly.
#include "ztunnel/control/capture_pin_keeper.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "bpf/loader/inbound_registration.h"

namespace warren::ztunnel {
namespace {

class TempRunDir {
 public:
  TempRunDir() {
    char tmpl[] = "/tmp/warren-capture-pins-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempRunDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `json` until `done` holds for it (bounded): the keeper's thread publishes after a pass.
template <typename Done>
nlohmann::json waitFor(const CapturePinKeeper& keeper, Done done) {
  nlohmann::json j = keeper.toJson();
  for (int i = 0; i < 200 && !done(j); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    j = keeper.toJson();
  }
  return j;
}

TEST(CapturePinKeeper, PublishesEachPassAndFollowsThePublishedPinDir) {
  TempRunDir run;
  ASSERT_FALSE(run.path().empty());
  CapturePinKeeper keeper(run.path(), std::chrono::milliseconds(20));
  keeper.start();
  auto j = waitFor(keeper, [](const nlohmann::json& s) { return s["passes"].get<int>() >= 1; });
  EXPECT_GE(j["passes"].get<int>(), 1);
  EXPECT_EQ(j["pin_dir"], "") << "no agent published a pin dir: nothing held";
  EXPECT_EQ(j["held"]["links"], 0);
  EXPECT_EQ(j["held"]["maps"], 0);
  EXPECT_EQ(j["agent_alive"], false);
  for (const char* key : {"restored", "repairs", "failures", "last_error"})
    EXPECT_TRUE(j.contains(key)) << key;

  // The agent publishes its pin dir (nothing pinned there yet): followed on the next pass.
  const std::string pins = "/sys/fs/bpf/warren-capture-pins-test-none";
  ASSERT_TRUE(redirect::writePinDirFile(run.path(), pins));
  j = waitFor(keeper, [&](const nlohmann::json& s) { return s["pin_dir"] == pins; });
  EXPECT_EQ(j["pin_dir"], pins);
  EXPECT_EQ(j["held"]["links"], 0);
  EXPECT_EQ(j["failures"], 0);

  const auto t0 = std::chrono::steady_clock::now();
  keeper.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << "stop waits no pass";
}

TEST(CapturePinKeeper, StopsPromptlyMidInterval) {
  TempRunDir run;
  CapturePinKeeper keeper(run.path());  // the real 2 s interval
  keeper.start();
  waitFor(keeper, [](const nlohmann::json& s) { return s["passes"].get<int>() >= 1; });
  const auto t0 = std::chrono::steady_clock::now();
  keeper.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
}

}  // namespace
}  // namespace warren::ztunnel
