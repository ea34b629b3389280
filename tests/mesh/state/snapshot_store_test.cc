#include "mesh/state/snapshot_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "common/uring/worker_threads.h"
#include "tests/mesh/mesh_fixture.h"

namespace warren::mesh {
namespace {

using namespace testing;
using namespace std::chrono_literals;

std::string podIp(int i) {
  return "10.244." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

// Readers on worker threads take snapshots while one writer publishes: every snapshot a
// reader sees must be internally consistent (version N holds exactly N workloads, every one
// indexed by IP and listed as an endpoint), and versions never go backwards for a reader.
// Run under TSan (cmake -DCMAKE_CXX_FLAGS=-fsanitize=thread) to check for data races.
TEST(SnapshotStore, ReadersSeeConsistentSnapshotsWhileWriterPublishes) {
  SnapshotStore store;
  StateUpdate svc;
  svc.services = {service("default", "web", {"10.96.0.10"}, {{80, 8080}})};
  ASSERT_TRUE(store.apply(svc).empty());

  constexpr int kUpdates = 300;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<long> reads{0};
  auto reader = [&](bool cached) {
    SnapshotReader cache(store);
    uint64_t last = 0;
    while (!done.load(std::memory_order_acquire)) {
      auto snap = cached ? cache.get() : store.current();
      uint64_t v = snap->version();
      if (v < last) failures++;
      last = v;
      int n = static_cast<int>(v) - 1;  // version 1 is the service alone
      if (static_cast<int>(snap->workloadCount()) != n) failures++;
      const Service* web = snap->serviceByVip({"", ip("10.96.0.10")});
      if (!web || static_cast<int>(snap->endpoints(*web).size()) != n) failures++;
      if (n > 0 && !snap->workloadByAddress({"", *net::IpAddress::parse(podIp(n - 1))})) failures++;
      reads++;
    }
  };
  std::vector<std::thread> readers;
  // Two readers copy the pointer each time, two go through a per-worker SnapshotReader.
  for (int i = 0; i < 4; ++i) readers.emplace_back(reader, i % 2 == 0);
  for (int i = 0; i < kUpdates; ++i) {
    StateUpdate u;
    auto w = pod("default", "web-" + std::to_string(i), {}, "node-1");
    w.addresses = {*net::IpAddress::parse(podIp(i))};
    w.services[svcKey("default", "web")] = {{80, 8080}};
    u.workloads = {w};
    ASSERT_TRUE(store.apply(u).empty());
  }
  // Let readers observe the final state too.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (reads.load() < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store.current()->version(), static_cast<uint64_t>(kUpdates + 1));
  EXPECT_EQ(store.current()->workloadCount(), static_cast<size_t>(kUpdates));
  SnapshotReader after(store);
  EXPECT_EQ(after.get()->version(), static_cast<uint64_t>(kUpdates + 1));
}

TEST(SnapshotStore, ReaderRefreshesOnlyWhenTheGenerationMoves) {
  SnapshotStore store;
  SnapshotReader reader(store);
  auto first = reader.get();
  EXPECT_EQ(first->version(), 0u);
  EXPECT_EQ(reader.get().get(), first.get()) << "unchanged store: same snapshot object";
  StateUpdate u;
  u.workloads = {pod("default", "a", {"10.244.1.1"}, "node-1")};
  ASSERT_TRUE(store.apply(u).empty());
  EXPECT_EQ(store.generation(), 1u);
  EXPECT_EQ(reader.get()->version(), 1u);
  EXPECT_EQ(first->workloadCount(), 0u) << "the old snapshot is untouched";
}

TEST(SnapshotStore, ConcurrentWritersNeverLoseUpdates) {
  SnapshotStore store;
  constexpr int kPerWriter = 100;
  auto writer = [&](int base) {
    for (int i = 0; i < kPerWriter; ++i) {
      StateUpdate u;
      auto w = pod("default", "p-" + std::to_string(base + i), {}, "node-1");
      w.addresses = {*net::IpAddress::parse(podIp(base + i))};
      u.workloads = {w};
      (void)store.apply(u);
    }
  };
  std::thread a(writer, 0), b(writer, 1000);
  a.join();
  b.join();
  EXPECT_EQ(store.current()->workloadCount(), 2u * kPerWriter);
  EXPECT_EQ(store.current()->version(), 2u * kPerWriter);
}

// A connection from a pod whose workload has not arrived waits for the publish that brings it:
// the store posts the callback to the waiting loop right after that publish, not before.
TEST(SnapshotStore, WhenWorkloadFiresOnThePublishThatBringsIt) {
  SnapshotStore store;
  auto thread =
      std::move(*uring::WorkerThreads::start(1, {uring::Backend::kEpoll, false}, nullptr));
  uring::EventLoop& loop = thread->loop(0);
  const std::string uid = "Kubernetes//Pod/default/late";
  std::promise<bool> seen;  // did the waiter see the workload when it ran?
  store.whenWorkload(uid, loop, [&] { seen.set_value(store.current()->workloadByUid(uid)); });
  std::atomic<int> cancelled_ran{0};
  WaitId cancelled = store.whenWorkload(uid, loop, [&] { ++cancelled_ran; });
  store.cancelWait(cancelled);
  StateUpdate other;
  other.workloads = {pod("default", "other", {"10.244.1.20"}, "node-1")};
  ASSERT_TRUE(store.apply(other).empty());
  auto f = seen.get_future();
  EXPECT_EQ(f.wait_for(100ms), std::future_status::timeout) << "another workload's publish";
  StateUpdate late;
  late.workloads = {pod("default", "late", {"10.244.1.21"}, "node-1")};
  ASSERT_TRUE(store.apply(late).empty());
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f.get());
  // Already there: fires at once (posted, never inside the call).
  std::promise<void> again;
  store.whenWorkload(uid, loop, [&] { again.set_value(); });
  EXPECT_EQ(again.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(cancelled_ran.load(), 0);
  store.cancelWaits(loop);
  thread->stop();
}

}  // namespace
}  // namespace warren::mesh
