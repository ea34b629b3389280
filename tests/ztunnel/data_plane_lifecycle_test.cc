// The data path's life cycle against the control threads that call into it: xDS (onSnapshot),
// ZDS (addPod / removePod) and the admin endpoint (connections) keep calling while the daemon
// stops. Before the fix, a snapshot arriving while DataPlane::stop() ran posted a task to a
// worker loop that had just been destroyed (or walked the worker list while it was cleared):
// the SIGSEGV agent_admin_test hit about once in 40 runs. Run under `make asan` / `make tsan`
// this test shows it at once; in a plain build it crashes within a few rounds.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/metrics/registry.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/state/snapshot_store.h"
#include "ztunnel/data/data_plane.h"

namespace warren::ztunnel {
namespace {

using namespace std::chrono_literals;

struct Plane {
  mesh::SnapshotStore store;
  mesh::CertificateManager certs{
      [](const identity::SpiffeId&) -> Result<identity::WorkloadCertificate> {
        return fail(Error(ErrorCode::kUnavailable, "no CA in this test"));
      }};
  metrics::Registry registry;
  std::unique_ptr<DataPlane> plane;

  Plane() {
    auto m = DataPathMetrics::create(registry);
    EXPECT_TRUE(m);
    DataPlaneOptions o;
    o.workers = 2;
    plane = std::make_unique<DataPlane>(o, store, certs, *m);
  }
};

TEST(DataPlaneLifecycle, ControlThreadsCallingDuringStopAreSafe) {
  for (int round = 0; round < 30; ++round) {
    Plane p;
    ASSERT_TRUE(p.plane->start());
    std::atomic<bool> done{false};
    std::atomic<uint64_t> calls{0};
    // xDS and ZDS threads: a snapshot, a pod going away, over and over.
    std::thread xds([&] {
      while (!done) {
        p.plane->onSnapshot();
        p.plane->removePod("uid-" + std::to_string(calls++ % 3));
      }
    });
    // The admin endpoint's thread.
    std::thread admin([&] {
      while (!done) (void)p.plane->connectionCount();
    });
    while (calls < 50) std::this_thread::yield();
    p.plane->stop();
    // After stop every entry point is a no-op (or refuses), never a use of freed loops.
    p.plane->onSnapshot();
    EXPECT_EQ(p.plane->connectionCount(), 0u);
    done = true;
    xds.join();
    admin.join();
  }
}

TEST(DataPlaneLifecycle, AddPodAfterStopIsRefused) {
  Plane p;
  ASSERT_TRUE(p.plane->start());
  p.plane->stop();
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  auto pod = EnrolledPod::make("uid", "web", "demo", "sa", "cluster.local");
  ASSERT_TRUE(pod);
  PodListeners listeners;
  for (int w = 0; w < 2; ++w) {
    listeners.sets.push_back(
        {UniqueFd(::dup(fds[0])), UniqueFd(::dup(fds[0])), UniqueFd(::dup(fds[0]))});
  }
  auto s = p.plane->addPod(std::make_shared<const EnrolledPod>(std::move(*pod)), listeners);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("data path"), std::string::npos) << s.error().message();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(DataPlaneLifecycle, AddPodNeedsOneListenerSetPerWorker) {
  Plane p;  // 2 workers
  ASSERT_TRUE(p.plane->start());
  auto pod = EnrolledPod::make("uid", "web", "demo", "sa", "cluster.local");
  ASSERT_TRUE(pod);
  auto sets = listenPodPorts(*net::IpAddress::parse("127.0.0.1"), {0, 0, 0}, {}, 1);
  ASSERT_TRUE(sets) << sets.error().message();
  PodListeners listeners;
  listeners.sets = std::move(*sets);
  auto s = p.plane->addPod(std::make_shared<const EnrolledPod>(std::move(*pod)), listeners);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("1 listener sets for 2 workers"), std::string::npos)
      << s.error().message();
  p.plane->stop();
}

}  // namespace
}  // namespace warren::ztunnel
