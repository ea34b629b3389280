// What the loop's shared bookkeeping promises every caller, checked on both backends over real
// loopback sockets: one final callback per operation, callbacks never nested nor run inside
// the call that caused them, cancel semantics, posted-task order, move-only callbacks.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <climits>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/uring/event_loop.h"

namespace warren::uring {
namespace {

using namespace std::chrono_literals;
using net::SocketAddress;
using net::SocketFactory;

constexpr auto kLimit = 5s;  // every wait is bounded by this

class LoopGuaranteesTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    LoopOptions o;
    o.backend = GetParam();
    o.fallback_to_epoll = false;
    auto loop = EventLoop::create(o);
    ASSERT_TRUE(loop) << loop.error().message();
    loop_ = std::move(*loop);
  }

  // A connected pair of non-blocking sockets (plain syscalls: the loop is what is tested).
  std::pair<int, int> socketPair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    return {sv[0], sv[1]};
  }

  std::unique_ptr<EventLoop> loop_;
};

// Counts callbacks per operation and the nesting depth they run at.
struct CallLog {
  std::map<std::string, std::vector<int>> results;
  int depth = 0;
  int max_depth = 0;

  // Wraps a body so the log sees it run; `body` may do anything a caller does.
  struct Scope {
    CallLog& log;
    explicit Scope(CallLog& l) : log(l) { log.max_depth = std::max(log.max_depth, ++log.depth); }
    ~Scope() { --log.depth; }
  };
  void record(const std::string& name, int res) {
    Scope s(*this);
    results[name].push_back(res);
  }
};

TEST_P(LoopGuaranteesTest, EveryOperationGetsExactlyOneFinalCallback) {
  auto [a, b] = socketPair();
  auto [c, d] = socketPair();
  CallLog log;
  // A mix: completes at once, never completes, cancelled twice, cancelled after it finished,
  // ended by close.
  loop_->send(a, Buffer{'h', 'i'}, 0, [&](int r, Buffer) { log.record("send", r); });
  OpId pending = loop_->recv(c, 10, [&](int r, std::span<const char>) { log.record("recv", r); });
  OpId timer = loop_->timeout(10s, [&](int r) { log.record("timer", r); });
  OpId quick = loop_->timeout(0ns, [&](int r) { log.record("quick", r); });
  loop_->recvMultishot(d, [&](int r, std::span<const char>) { log.record("multi", r); });
  loop_->cancel(timer);
  loop_->cancel(timer);
  ASSERT_TRUE(loop_->runUntil([&] { return log.results.contains("quick"); }, kLimit));
  loop_->cancel(quick);  // finished: ignored
  loop_->cancel(pending);
  loop_->close(d);  // ends the multishot recv
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
  for (int i = 0; i < 5; ++i) loop_->runOnce(1ms);  // nothing may come late

  EXPECT_EQ(log.results["send"], (std::vector<int>{2}));
  EXPECT_EQ(log.results["recv"], (std::vector<int>{-ECANCELED}));
  EXPECT_EQ(log.results["timer"], (std::vector<int>{-ECANCELED}));
  EXPECT_EQ(log.results["quick"], (std::vector<int>{0}));
  EXPECT_EQ(log.results["multi"], (std::vector<int>{-ECANCELED}));
  for (int fd : {a, b, c}) loop_->close(fd);
}

// Closing an fd ends exactly the operations on it (io_uring: each cancelled by its id), even
// when many other connections wait and when the fd's number is handed out again at once.
TEST_P(LoopGuaranteesTest, ClosingAnFdEndsItsOperationsAndNoOneElses) {
  std::vector<std::pair<int, int>> pairs;
  std::map<int, std::vector<int>> got;  // pair index -> results
  for (int i = 0; i < 50; ++i) {
    pairs.push_back(socketPair());
    loop_->recv(pairs[i].first, 10,
                [&got, i](int r, std::span<const char>) { got[i].push_back(r); });
  }
  // A send on the fd that will be closed, too: it ends with what it sent or with the close.
  auto [a, b] = pairs[7];
  Buffer big(1 << 20, 'x');
  int sent_res = INT_MIN;
  loop_->send(a, std::move(big), 0, [&](int r, Buffer) { sent_res = r; });
  loop_->runOnce(1ms);
  loop_->close(a);
  auto [reused, peer] = socketPair();  // most likely `a`'s number again
  std::vector<int> reused_got;
  loop_->recv(reused, 10, [&](int r, std::span<const char>) { reused_got.push_back(r); });
  ASSERT_TRUE(loop_->runUntil([&] { return got.contains(7) && sent_res != INT_MIN; }, kLimit));
  EXPECT_EQ(got[7], (std::vector<int>{-ECANCELED}));
  EXPECT_TRUE(sent_res > 0 || sent_res == -ECANCELED) << sent_res;
  for (int i = 0; i < 5; ++i) loop_->runOnce(1ms);
  EXPECT_EQ(got.size(), 1u) << "only the closed fd's operations ended";
  EXPECT_TRUE(reused_got.empty());
  // Everyone else's operations still work: each gets its byte.
  for (int i = 0; i < 50; ++i) {
    if (i == 7) continue;
    ASSERT_EQ(::send(pairs[i].second, "y", 1, 0), 1);
  }
  ASSERT_EQ(::send(peer, "z", 1, 0), 1);
  ASSERT_TRUE(loop_->runUntil([&] { return got.size() == 50 && !reused_got.empty(); }, kLimit));
  for (int i = 0; i < 50; ++i) {
    if (i == 7) continue;
    EXPECT_EQ(got[i], (std::vector<int>{1})) << i;
  }
  EXPECT_EQ(reused_got, (std::vector<int>{1}));
  for (int i = 0; i < 50; ++i) {
    if (i != 7) loop_->close(pairs[i].first);
    loop_->close(pairs[i].second);
  }
  loop_->close(reused);
  loop_->close(peer);
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
}

TEST_P(LoopGuaranteesTest, ACancelRacingACompletionStillYieldsOneCallback) {
  // The send can be done (io_uring completes it at submit) or not (epoll has not tried yet)
  // when the cancel arrives: either answer is fine, twice is not.
  auto [a, b] = socketPair();
  std::vector<int> got;
  OpId id = loop_->send(a, Buffer(5, 'x'), 0, [&](int r, Buffer) { got.push_back(r); });
  loop_->cancel(id);
  ASSERT_TRUE(loop_->runUntil([&] { return !got.empty(); }, kLimit));
  for (int i = 0; i < 5; ++i) loop_->runOnce(1ms);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0] == 5 || got[0] == -ECANCELED) << got[0];
  loop_->close(a);
  loop_->close(b);
}

TEST_P(LoopGuaranteesTest, CallbacksNeverRunInsideTheCallThatCausedThemNorInsideEachOther) {
  auto [a, b] = socketPair();
  CallLog log;
  bool in_call = false;
  int ran_inside_call = 0;
  // Every callback submits, cancels and posts; none of what that causes may run inside it.
  std::function<void(int)> chain = [&](int depth_left) {
    if (depth_left == 0) return;
    in_call = true;
    OpId t = loop_->timeout(0ns, [&, depth_left](int r) {
      CallLog::Scope s(log);
      if (in_call) ++ran_inside_call;
      log.results["timer"].push_back(r);
      chain(depth_left - 1);
    });
    OpId r = loop_->recv(b, 10, [&](int res, std::span<const char>) {
      CallLog::Scope s(log);
      if (in_call) ++ran_inside_call;
      log.results["recv"].push_back(res);
    });
    loop_->cancel(r);  // settled later, not here
    loop_->post([&] {
      CallLog::Scope s(log);
      if (in_call) ++ran_inside_call;
      log.results["task"].push_back(0);
    });
    (void)t;
    in_call = false;
  };
  chain(20);
  ASSERT_TRUE(loop_->runUntil([&] { return log.results["timer"].size() == 20; }, kLimit));
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
  EXPECT_EQ(ran_inside_call, 0);
  EXPECT_EQ(log.max_depth, 1) << "a callback ran inside another";
  EXPECT_EQ(log.results["recv"], std::vector<int>(20, -ECANCELED));
  EXPECT_EQ(log.results["task"].size(), 20u);
  loop_->close(a);
  loop_->close(b);
}

TEST_P(LoopGuaranteesTest, RunningTheLoopFromACallbackIsAProgrammingError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        loop_->post([&] { loop_->runOnce(0ms); });
        loop_->runOnce(100ms);
      },
      "runOnce called from inside a loop callback");
}

TEST_P(LoopGuaranteesTest, ACancelledMultishotRecvDeliversNothingButItsEnd) {
  auto [a, b] = socketPair();
  std::vector<int> results;
  OpId id = 0;
  id = loop_->recvMultishot(b, [&](int r, std::span<const char>) {
    results.push_back(r);
    if (results.size() == 1) {
      loop_->cancel(id);
      // More data arrives after the cancel was asked: it must not reach this callback.
      ASSERT_EQ(::send(a, "more", 4, MSG_NOSIGNAL), 4);
    }
  });
  ASSERT_EQ(::send(a, "first", 5, MSG_NOSIGNAL), 5);
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
  for (int i = 0; i < 5; ++i) loop_->runOnce(1ms);
  EXPECT_EQ(results, (std::vector<int>{5, -ECANCELED}));
  loop_->close(a);
  loop_->close(b);
}

TEST_P(LoopGuaranteesTest, ACancelledMultishotAcceptGetsNoMoreConnections) {
  auto l = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), {});
  ASSERT_TRUE(l);
  auto addr = *net::localAddress(l->get());
  // Three connections wait in the backlog before the accept is armed: the first callback
  // cancels, the others must not be delivered (the loop closes any it already accepted).
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) {
    auto c = SocketFactory::tcpSocket(AF_INET, {});
    ASSERT_TRUE(c);
    net::Sockaddr sa = addr.toSockaddr();
    int rc = ::connect(c->get(), sa.get(), sa.length);
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS);
    clients.push_back(c->release());
  }
  std::vector<int> results;
  OpId id = 0;
  id = loop_->acceptMultishot(l->get(), [&](int r) {
    results.push_back(r);
    if (r >= 0) {
      loop_->cancel(id);
      ::close(r);
    }
  });
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
  for (int i = 0; i < 5; ++i) loop_->runOnce(1ms);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_GE(results[0], 0);
  EXPECT_EQ(results[1], -ECANCELED);
  for (int fd : clients) ::close(fd);
}

TEST_P(LoopGuaranteesTest, PostedTasksRunInPostingOrderAndTasksTheyPostRunAfter) {
  std::vector<int> order;
  for (int i = 0; i < 100; ++i)
    loop_->post([&, i] {
      order.push_back(i);
      if (i == 0) loop_->post([&] { order.push_back(1000); });  // after everything posted before
    });
  ASSERT_TRUE(loop_->runUntil([&] { return order.size() == 101; }, kLimit));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(order.back(), 1000);

  // Several posting threads: each thread's tasks keep their order.
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> total{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t)
    posters.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        loop_->post([&, t, i] {
          seen[t].push_back(i);
          ++total;
        });
    });
  ASSERT_TRUE(loop_->runUntil([&] { return total == kThreads * kEach; }, kLimit));
  for (auto& p : posters) p.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kEach));
    for (int i = 0; i < kEach; ++i) ASSERT_EQ(seen[t][i], i) << "thread " << t;
  }
}

// A task posted from the loop's own turn needs no wake-up (the queue runs before the loop waits
// again): a chain of 1,000 tasks each posting the next, and timer callbacks posting, all run
// with no eventfd write; a post from another thread still writes it.
TEST_P(LoopGuaranteesTest, SameThreadPostNeedsNoWakeUp) {
  int chain = 0;
  std::function<void()> next = [&] {
    if (++chain < 1000) loop_->post(next);
  };
  ASSERT_TRUE(loop_->runUntil([] { return true; }, kLimit));  // settle the loop
  uint64_t before = loop_->stats().wakeups;
  loop_->timeout(std::chrono::milliseconds(1), [&](int) { loop_->post(next); });
  ASSERT_TRUE(loop_->runUntil([&] { return chain == 1000; }, kLimit));
  EXPECT_EQ(loop_->stats().wakeups, before) << "posts from the loop's own turn woke it";

  std::atomic<bool> ran{false};
  std::thread other([&] { loop_->post([&] { ran = true; }); });
  other.join();
  ASSERT_TRUE(loop_->runUntil([&] { return ran.load(); }, kLimit));
  EXPECT_EQ(loop_->stats().wakeups, before + 1);
}

TEST_P(LoopGuaranteesTest, MoveOnlyCallbacksOwnWhatTheyCaptureUntilTheirLastRun) {
  struct Tracked {
    explicit Tracked(int* d) : destroyed(d) {}
    ~Tracked() { ++*destroyed; }
    int* destroyed;
  };
  int destroyed = 0;
  int fired = 0;
  loop_->timeout(0ns, [t = std::make_unique<Tracked>(&destroyed), &fired](int) { ++fired; });
  loop_->post([t = std::make_unique<Tracked>(&destroyed), &fired] { ++fired; });
  ASSERT_TRUE(loop_->runUntil([&] { return fired == 2; }, kLimit));
  EXPECT_EQ(destroyed, 2) << "each callback is released right after its final run";

  // Never completed: released with the loop, without running.
  loop_->timeout(10s, [t = std::make_unique<Tracked>(&destroyed), &fired](int) { ++fired; });
  loop_.reset();
  EXPECT_EQ(destroyed, 3);
  EXPECT_EQ(fired, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, LoopGuaranteesTest,
                         ::testing::Values(Backend::kUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& p) {
                           return std::string(p.param == Backend::kUring ? "uring" : "epoll");
                         });

}  // namespace
}  // namespace warren::uring
