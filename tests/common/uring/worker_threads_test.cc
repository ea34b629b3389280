#include "common/uring/worker_threads.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>

namespace warren::uring {
namespace {

using namespace std::chrono_literals;

class WorkerThreadsTest : public ::testing::TestWithParam<Backend> {
 protected:
  LoopOptions options() const {
    LoopOptions o;
    o.backend = GetParam();
    o.fallback_to_epoll = false;
    return o;
  }
};

TEST_P(WorkerThreadsTest, EachWorkerRunsItsOwnLoopOnItsOwnThread) {
  std::mutex mu;
  std::set<std::thread::id> init_threads;
  std::atomic<int> exits{0};
  auto pool = WorkerThreads::start(
      3, options(),
      [&](EventLoop& loop, unsigned) -> Status {
        EXPECT_EQ(loop.backend(), GetParam());
        std::lock_guard lock(mu);
        init_threads.insert(std::this_thread::get_id());
        return ok();
      },
      [&](EventLoop&, unsigned) { ++exits; });
  ASSERT_TRUE(pool) << pool.error().message();
  ASSERT_EQ((*pool)->size(), 3u);
  EXPECT_EQ(init_threads.size(), 3u);
  // A task posted to worker i runs on the thread that initialised it.
  std::set<std::thread::id> task_threads;
  for (unsigned i = 0; i < 3; ++i) {
    std::promise<std::thread::id> where;
    auto fut = where.get_future();
    (*pool)->loop(i).post([&where] { where.set_value(std::this_thread::get_id()); });
    ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
    task_threads.insert(fut.get());
  }
  EXPECT_EQ(task_threads, init_threads);
  EXPECT_FALSE(task_threads.contains(std::this_thread::get_id()));
  (*pool)->stop();
  EXPECT_EQ(exits, 3);
}

TEST_P(WorkerThreadsTest, InitErrorStopsStartUpAndNamesTheWorker) {
  std::atomic<int> exits{0};
  auto pool = WorkerThreads::start(
      3, options(),
      [](EventLoop&, unsigned i) -> Status {
        if (i == 1) return fail(Error::invalid("bind listener"));
        return ok();
      },
      [&](EventLoop&, unsigned) { ++exits; });
  ASSERT_FALSE(pool);
  EXPECT_NE(pool.error().message().find("worker 1"), std::string::npos) << pool.error().message();
  EXPECT_NE(pool.error().message().find("bind listener"), std::string::npos);
  EXPECT_EQ(exits, 1) << "the worker started before the failure is stopped and joined";
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkerThreadsTest,
                         ::testing::Values(Backend::kUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& p) {
                           return std::string(p.param == Backend::kUring ? "uring" : "epoll");
                         });

}  // namespace
}  // namespace warren::uring
