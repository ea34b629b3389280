// Pure and in-process pieces of the mesh control half: back-off, the xDS node id, and the
// certificate manager's event-driven readiness (whenReady) with certificates from a test CA.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "common/uring/worker_threads.h"
#include "mesh/control/backoff.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/control/xds_client.h"
#include "tests/common/identity/test_ca.h"

namespace warren::mesh {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, DoublesUpToTheCapAndResets) {
  Backoff b(1s, 150s);
  std::vector<long> got;
  for (int i = 0; i < 10; ++i)
    got.push_back(std::chrono::duration_cast<std::chrono::seconds>(b.next()).count());
  EXPECT_EQ(got, (std::vector<long>{1, 2, 4, 8, 16, 32, 64, 128, 150, 150}));
  b.reset();
  EXPECT_EQ(b.next(), 1s);
}

TEST(XdsNodeId, IstioShape) {
  EXPECT_EQ(xdsNodeId("10.0.0.1", "ztunnel-abc", "istio-system"),
            "ztunnel~10.0.0.1~ztunnel-abc.istio-system~istio-system.svc.cluster.local");
}

// A certificate manager whose CA answers only once the test opens it.
struct GatedCa {
  identity::testing::TestCa ca = identity::testing::TestCa::root();
  std::atomic<bool> open{false};
  std::atomic<int> calls{0};
  CertificateManager manager{
      [this](const identity::SpiffeId& asked) -> Result<identity::WorkloadCertificate> {
        ++calls;
        if (!open) return fail(Error(ErrorCode::kUnavailable, "CA closed"));
        return ca.issue(asked);
      },
      10ms, 20ms};
  identity::SpiffeId id = *identity::SpiffeId::parse("spiffe://cluster.local/ns/a/sa/web");
  std::unique_ptr<uring::WorkerThreads> loop_thread =
      std::move(*uring::WorkerThreads::start(1, {uring::Backend::kEpoll, false}, nullptr));
  uring::EventLoop& loop() { return loop_thread->loop(0); }
  ~GatedCa() {
    manager.cancelWaits(loop());
    manager.stop();
    loop_thread->stop();
  }
};

TEST(CertificateManagerReadiness, WhenReadyFiresOnTheAskingLoopRightAfterTheFetch) {
  GatedCa g;
  g.manager.start();
  g.manager.setWanted("test", {g.id});
  std::promise<std::thread::id> fired;
  g.manager.whenReady(g.id, g.loop(), [&] { fired.set_value(std::this_thread::get_id()); });
  auto f = fired.get_future();
  // The CA keeps failing: nothing fires however long we wait for it to.
  ASSERT_TRUE(g.manager.get(g.id) == nullptr);
  EXPECT_EQ(f.wait_for(200ms), std::future_status::timeout);
  EXPECT_GE(g.calls.load(), 2) << "the manager retried meanwhile";
  g.open = true;  // the next fetch succeeds and fires the wait
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  std::promise<std::thread::id> loop_id;
  g.loop().post([&] { loop_id.set_value(std::this_thread::get_id()); });
  EXPECT_EQ(f.get(), loop_id.get_future().get()) << "run on the loop that asked";
  EXPECT_NE(g.manager.get(g.id), nullptr);
}

TEST(CertificateManagerReadiness, WhenReadyWithACertificateHeldFiresAtOnce) {
  GatedCa g;
  g.open = true;
  g.manager.start();
  g.manager.setWanted("test", {g.id});
  for (int i = 0; i < 500 && !g.manager.get(g.id); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_NE(g.manager.get(g.id), nullptr);
  std::promise<void> fired;
  g.manager.whenReady(g.id, g.loop(), [&] { fired.set_value(); });
  EXPECT_EQ(fired.get_future().wait_for(5s), std::future_status::ready);
}

TEST(CertificateManagerReadiness, ACancelledWaitNeverFires) {
  GatedCa g;
  g.manager.start();
  g.manager.setWanted("test", {g.id});
  std::atomic<int> fired{0};
  WaitId w = g.manager.whenReady(g.id, g.loop(), [&] { ++fired; });
  g.manager.whenReady(g.id, g.loop(), [&] { fired += 10; });
  g.manager.cancelWait(w);
  g.open = true;
  for (int i = 0; i < 500 && fired == 0; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fired.load(), 10) << "only the wait not cancelled ran, once";
  // A loop going away takes all its waits back.
  g.manager.setWanted("test", {});
  auto other = *identity::SpiffeId::parse("spiffe://cluster.local/ns/a/sa/other");
  g.manager.whenReady(other, g.loop(), [&] { fired += 100; });
  g.manager.cancelWaits(g.loop());
  g.manager.setWanted("test", {other});
  for (int i = 0; i < 500 && !g.manager.get(other); ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fired.load(), 10);
}

}  // namespace
}  // namespace warren::mesh
