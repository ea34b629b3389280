// EventLoop behaviour on both backends, over real loopback sockets (port 0). The io_uring
// backend's own (buffer ring, batches, quiet sends): uring_backend_test.cc.
#include "common/uring/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "common/uring/uring_features.h"

namespace warren::uring {
namespace {

using namespace std::chrono_literals;
using net::SocketAddress;
using net::SocketFactory;

constexpr auto kLimit = 5s;  // every wait in these tests is bounded by this

class EventLoopTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { loop_ = makeLoop({}); }

  std::unique_ptr<EventLoop> makeLoop(LoopOptions o) {
    o.backend = GetParam();
    o.fallback_to_epoll = false;
    auto loop = EventLoop::create(o);
    EXPECT_TRUE(loop) << loop.error().message();
    return loop ? std::move(*loop) : nullptr;
  }

  // A listener (closed by the loop at the end) and its address.
  int listen() {
    auto l = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), {});
    EXPECT_TRUE(l);
    addr_ = *net::localAddress(l->get());
    return l->release();
  }

  // A connected pair (client, server side) made through the loop's connect and accept.
  std::pair<int, int> connectedPair(EventLoop& loop, int listener) {
    int accepted = -1, connected = -2;
    OpId acc = loop.acceptMultishot(listener, [&](int res) {
      if (res >= 0) accepted = res;
    });
    auto c = SocketFactory::tcpSocket(AF_INET, {});
    EXPECT_TRUE(c);
    int cfd = c->release();
    loop.connect(cfd, addr_.toSockaddr().get(), addr_.toSockaddr().length,
                 [&](int res) { connected = res; });
    EXPECT_TRUE(loop.runUntil([&] { return accepted >= 0 && connected != -2; }, kLimit));
    EXPECT_EQ(connected, 0);
    bool ended = false;
    loop.cancel(acc);
    // The accept callback runs once more with -ECANCELED; wait for it so `accepted` (a local)
    // is never written after we return.
    OpId t = loop.timeout(20ms, [&](int) { ended = true; });
    (void)t;
    loop.runUntil([&] { return ended; }, kLimit);
    return {cfd, accepted};
  }

  std::unique_ptr<EventLoop> loop_;
  SocketAddress addr_;
};

TEST_P(EventLoopTest, ReportsItsBackendAndFeatures) {
  ASSERT_TRUE(loop_);
  EXPECT_EQ(loop_->backend(), GetParam());
  if (GetParam() == Backend::kUring) {
    EXPECT_NE(loop_->describe().find("buf_ring"), std::string::npos) << loop_->describe();
  }
}

TEST_P(EventLoopTest, AcceptConnectSendRecv) {
  ASSERT_TRUE(loop_);
  int listener = listen();
  auto [client, server] = connectedPair(*loop_, listener);
  ASSERT_GE(server, 0);

  std::string got;
  int sent = -1;
  loop_->send(client, Buffer{'h', 'e', 'l', 'l', 'o'}, 0, [&](int res, Buffer b) {
    sent = res;
    EXPECT_EQ(b.size(), 5u);  // the buffer comes back
  });
  loop_->recv(server, 100, [&](int res, std::span<const char> d) {
    ASSERT_GT(res, 0);
    got.assign(d.begin(), d.end());
  });
  ASSERT_TRUE(loop_->runUntil([&] { return sent == 5 && got == "hello"; }, kLimit));

  // Send from an offset, recv with a small max_len: partial reads are the caller's business.
  std::string reply;
  loop_->send(server, Buffer{'x', 'x', 'w', 'o', 'r', 'l', 'd'}, 2, [](int, Buffer) {});
  std::function<void()> more = [&] {
    loop_->recv(client, 2, [&](int res, std::span<const char> d) {
      ASSERT_GT(res, 0);
      EXPECT_LE(res, 2);
      reply.append(d.begin(), d.end());
      if (reply.size() < 5) more();
    });
  };
  more();
  ASSERT_TRUE(loop_->runUntil([&] { return reply == "world"; }, kLimit));
  loop_->close(client);
  loop_->close(server);
  loop_->close(listener);
}

TEST_P(EventLoopTest, MultishotAcceptManyAndMultishotRecvUntilEof) {
  ASSERT_TRUE(loop_);
  int listener = listen();
  std::vector<int> accepted;
  loop_->acceptMultishot(listener, [&](int res) {
    if (res >= 0) accepted.push_back(res);
  });
  std::vector<int> clients;
  int connected = 0;
  for (int i = 0; i < 20; ++i) {
    auto c = SocketFactory::tcpSocket(AF_INET, {});
    ASSERT_TRUE(c);
    clients.push_back(c->release());
    loop_->connect(clients.back(), addr_.toSockaddr().get(), addr_.toSockaddr().length,
                   [&](int res) {
                     EXPECT_EQ(res, 0);
                     ++connected;
                   });
  }
  ASSERT_TRUE(loop_->runUntil([&] { return accepted.size() == 20 && connected == 20; }, kLimit));

  // One connection: three sends then EOF arrive through a single multishot recv.
  std::string got;
  bool eof = false;
  loop_->recvMultishot(accepted[0], [&](int res, std::span<const char> d) {
    if (res > 0) got.append(d.begin(), d.end());
    if (res == 0) eof = true;
  });
  int sends = 0;
  for (const char* s : {"one ", "two ", "three"})
    loop_->send(clients[0], Buffer(s, s + std::strlen(s)), 0, [&](int, Buffer) { ++sends; });
  ASSERT_TRUE(loop_->runUntil([&] { return sends == 3 && got == "one two three"; }, kLimit));
  ASSERT_EQ(::shutdown(clients[0], SHUT_WR), 0);
  ASSERT_TRUE(loop_->runUntil([&] { return eof; }, kLimit));
  for (int fd : clients) loop_->close(fd);
  for (int fd : accepted) loop_->close(fd);
  loop_->close(listener);
  // Closing the listener ended the multishot accept: nothing left in flight.
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
}

TEST_P(EventLoopTest, ConnectRefusedIsAnError) {
  ASSERT_TRUE(loop_);
  int listener = listen();
  loop_->close(listener);  // nobody listens on addr_ now
  auto c = SocketFactory::tcpSocket(AF_INET, {});
  ASSERT_TRUE(c);
  int res = 1;
  loop_->connect(c->get(), addr_.toSockaddr().get(), addr_.toSockaddr().length,
                 [&](int r) { res = r; });
  ASSERT_TRUE(loop_->runUntil([&] { return res != 1; }, kLimit));
  EXPECT_EQ(res, -ECONNREFUSED);
  loop_->close(c->release());
}

TEST_P(EventLoopTest, TimeoutsFireInOrderAndCancelledOnesDoNot) {
  ASSERT_TRUE(loop_);
  std::vector<int> order;
  int cancelled_res = 1;
  auto start = std::chrono::steady_clock::now();
  loop_->timeout(60ms, [&](int res) {
    EXPECT_EQ(res, 0);
    order.push_back(60);
  });
  loop_->timeout(20ms, [&](int res) {
    EXPECT_EQ(res, 0);
    order.push_back(20);
  });
  OpId never = loop_->timeout(30ms, [&](int res) { cancelled_res = res; });
  loop_->cancel(never);
  loop_->cancel(never);   // twice: ignored
  loop_->cancel(999999);  // unknown: ignored
  ASSERT_TRUE(loop_->runUntil([&] { return order.size() == 2; }, kLimit));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 55ms);
  EXPECT_EQ(order, (std::vector<int>{20, 60}));
  EXPECT_EQ(cancelled_res, -ECANCELED);
}

TEST_P(EventLoopTest, CancelPendingRecv) {
  ASSERT_TRUE(loop_);
  int listener = listen();
  auto [client, server] = connectedPair(*loop_, listener);
  int res = 1;
  OpId id = loop_->recv(server, 100, [&](int r, std::span<const char>) { res = r; });
  loop_->runOnce(10ms);  // let it reach the kernel
  loop_->cancel(id);
  ASSERT_TRUE(loop_->runUntil([&] { return res != 1; }, kLimit));
  EXPECT_EQ(res, -ECANCELED);
  loop_->close(client);
  loop_->close(server);
  loop_->close(listener);
}

// RecvStart::kPollFirst is a hint: data already waiting is read at once, data that comes later
// is read when it comes, and on io_uring the recv is armed with POLL_FIRST (counted).
TEST_P(EventLoopTest, PollFirstRecvReadsWaitingAndLaterData) {
  ASSERT_TRUE(loop_);
  int listener = listen();
  auto [client, server] = connectedPair(*loop_, listener);
  ASSERT_EQ(::send(client, "early", 5, 0), 5);
  std::string got;
  int res = 1;
  auto recvPollFirst = [&] {
    res = 1;
    loop_->recv(
        server, 100,
        [&](int r, std::span<const char> d) {
          res = r;
          got.assign(d.begin(), d.end());
        },
        RecvStart::kPollFirst);
  };
  recvPollFirst();
  ASSERT_TRUE(loop_->runUntil([&] { return res != 1; }, kLimit));
  EXPECT_EQ(res, 5);
  EXPECT_EQ(got, "early");

  recvPollFirst();
  loop_->runOnce(5ms);
  EXPECT_EQ(res, 1) << "nothing was sent yet";
  ASSERT_EQ(::send(client, "late", 4, 0), 4);
  ASSERT_TRUE(loop_->runUntil([&] { return res != 1; }, kLimit));
  EXPECT_EQ(res, 4);
  EXPECT_EQ(got, "late");
  const bool uring = loop_->backend() == Backend::kUring;
  EXPECT_EQ(loop_->stats().poll_first_recvs, uring ? 2u : 0u);
  loop_->close(client);
  loop_->close(server);
  loop_->close(listener);
}

// SocketStream waits for data first only after a read that drained the socket (shorter than it
// asked); after a full read, more may be waiting, so the next recv reads at once.
TEST_P(EventLoopTest, SocketStreamPollsFirstOnlyAfterAShortRead) {
  if (GetParam() != Backend::kUring) GTEST_SKIP() << "POLL_FIRST is io_uring's";
  ASSERT_TRUE(loop_);
  int listener = listen();
  auto [client, server] = connectedPair(*loop_, listener);
  struct Events : relay::StreamEvents {
    std::string data;
    void onData(std::span<const char> d) override { data.append(d.begin(), d.end()); }
    void onReadEof() override {}
    void onWritten(size_t, Buffer) override {}
    void onError(const Error&) override {}
  } events;
  relay::SocketStream s(*loop_, UniqueFd(server));
  s.setEvents(&events);
  ASSERT_EQ(::send(client, "0123456789", 10, 0), 10);
  auto readSome = [&](size_t max, size_t want_total) {
    s.read(max);
    return loop_->runUntil([&] { return events.data.size() >= want_total; }, kLimit);
  };
  ASSERT_TRUE(readSome(4, 4));  // the first read: nothing known, read at once
  EXPECT_EQ(loop_->stats().poll_first_recvs, 0u);
  ASSERT_TRUE(readSome(4, 8));  // after a full read of 4: more may wait
  EXPECT_EQ(loop_->stats().poll_first_recvs, 0u);
  ASSERT_TRUE(readSome(100, 10));  // 2 of 100: this one drained the socket
  EXPECT_EQ(loop_->stats().poll_first_recvs, 0u);
  ASSERT_EQ(::send(client, "abc", 3, 0), 3);
  ASSERT_TRUE(readSome(100, 13));  // armed to wait for data first, and it still reads it
  EXPECT_EQ(loop_->stats().poll_first_recvs, 1u);
  EXPECT_EQ(events.data, "0123456789abc");
  loop_->close(client);
  loop_->close(listener);
}

// Closing an fd with a recv, a multishot recv and a send in flight: each callback runs once
// with -ECANCELED (or its real result, for a send that already went out), and everything the
// callbacks captured is released. ASan (uring_asan_test) checks nobody touches freed memory.
TEST_P(EventLoopTest, CloseWithOperationsInFlight) {
  ASSERT_TRUE(loop_);
  int listener = listen();
  auto [client, server] = connectedPair(*loop_, listener);
  auto token = std::make_shared<int>(7);
  int recv_res = 1, multi_res = 1, send_res = 1;
  loop_->recv(server, 100, [&, token](int r, std::span<const char>) { recv_res = r; });
  loop_->recvMultishot(client, [&, token](int r, std::span<const char>) { multi_res = r; });
  loop_->send(server, Buffer(1 << 20, 'z'), 0, [&, token](int r, Buffer) { send_res = r; });
  loop_->runOnce(1ms);
  loop_->close(server);
  loop_->close(client);
  // Every operation ends (the multishot recv may deliver data first, then its final result).
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
  EXPECT_EQ(recv_res, -ECANCELED);
  EXPECT_TRUE(multi_res == -ECANCELED || multi_res <= 0) << multi_res;
  EXPECT_NE(send_res, 1);
  EXPECT_EQ(token.use_count(), 1) << "callbacks (and what they own) must be released";
  EXPECT_EQ(loop_->stats().ops_in_flight, 0u);
  loop_->close(listener);
}

// A SocketStream destroyed with a recv and a send in flight: its state outlives it until the
// last completion, and no event reaches the (gone) owner.
TEST_P(EventLoopTest, SocketStreamDestroyedWithIoInFlight) {
  ASSERT_TRUE(loop_);
  int listener = listen();
  auto [client, server] = connectedPair(*loop_, listener);
  struct Events : relay::StreamEvents {
    int calls = 0;
    void onData(std::span<const char>) override { ++calls; }
    void onReadEof() override { ++calls; }
    void onWritten(size_t, Buffer) override { ++calls; }
    void onError(const Error&) override { ++calls; }
  };
  // Fixed, small buffers (no autotuning): the client never reads, so what both sockets hold
  // stays far below the 4 MiB written. Autotuned, they grew to tcp_wmem[2] + tcp_rmem[2] (36 MiB
  // here), the write sometimes completed within the runOnce below, and onWritten came while the
  // stream was still alive (CI rehearsal, once).
  int small = 64 << 10;
  ASSERT_EQ(::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
  ASSERT_EQ(::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  auto events = std::make_unique<Events>();
  {
    relay::SocketStream s(*loop_, UniqueFd(server));
    s.setEvents(events.get());
    s.read(1000);
    s.write(Buffer(4 << 20, 'q'));  // larger than the (fixed) socket buffers: stays in flight
    loop_->runOnce(1ms);
  }
  int calls_after_close = events->calls;
  events.reset();  // any late event would now be a use-after-free
  ASSERT_TRUE(loop_->runUntil([&] { return loop_->stats().ops_in_flight == 0; }, kLimit));
  EXPECT_EQ(calls_after_close, 0);
  loop_->close(client);
  loop_->close(listener);
}

TEST_P(EventLoopTest, PostFromOtherThreadsAndStop) {
  ASSERT_TRUE(loop_);
  std::atomic<int> ran{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t)
    posters.emplace_back([&] {
      for (int i = 0; i < 250; ++i) loop_->post([&] { ++ran; });
    });
  for (auto& t : posters) t.join();
  ASSERT_TRUE(loop_->runUntil([&] { return ran == 1000; }, kLimit));

  // stop() from another thread ends run(); a stop() racing ahead of run() also counts.
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    loop_->stop();
  });
  loop_->run();
  stopper.join();
  loop_->stop();
  loop_->run();  // returns at once
  SUCCEED();
}

TEST_P(EventLoopTest, LoopDestroyedWithOperationsInFlight) {
  auto loop = makeLoop({});
  ASSERT_TRUE(loop);
  int listener = listen();
  auto [client, server] = connectedPair(*loop, listener);
  auto token = std::make_shared<int>(1);
  loop->recv(server, 10, [token](int, std::span<const char>) {});
  loop->recvMultishot(client, [token](int, std::span<const char>) {});
  loop->timeout(10s, [token](int) {});
  loop->acceptMultishot(listener, [token](int) {});
  // A socket owned by a pending operation's callback (as a relay waiting for its upstream
  // connect holds both sockets): destroying it closes through the dying loop.
  auto owned = SocketFactory::tcpSocket(AF_INET, {});
  ASSERT_TRUE(owned);
  auto stream = std::make_shared<relay::SocketStream>(*loop, std::move(*owned));
  stream->read(10);
  loop->timeout(10s, [token, stream](int) {});
  stream.reset();
  loop->runOnce(1ms);
  loop.reset();
  EXPECT_EQ(token.use_count(), 1);
  ::close(client);
  ::close(server);
  ::close(listener);
}

// A /metrics scrape reads the loop's counters from its own thread: it must not wait for a loop
// that is busy (the waypoint's and ztunnel's scrapes used to post to each worker and leave out
// one that did not answer within 2 s, so a counter summed over the workers stepped back).
TEST_P(EventLoopTest, CountersAreReadFromAnotherThreadWithoutWaitingForTheLoop) {
  std::thread runner([this] { loop_->run(); });
  // Wake-ups: posts from another thread while the loop sleeps.
  for (int i = 0; i < 3; ++i) {
    std::promise<void> ran;
    loop_->post([&ran] { ran.set_value(); });
    ASSERT_EQ(ran.get_future().wait_for(kLimit), std::future_status::ready);
  }
  std::promise<void> busy, release;
  auto released = release.get_future();
  loop_->post([&] {
    busy.set_value();
    released.wait_for(kLimit);  // the loop is stuck in a callback until the reader is done
  });
  ASSERT_EQ(busy.get_future().wait_for(kLimit), std::future_status::ready);
  auto read = std::async(std::launch::async, [this] { return loop_->counters(); });
  const bool answered = read.wait_for(kLimit) == std::future_status::ready;
  release.set_value();
  loop_->stop();
  runner.join();
  ASSERT_TRUE(answered) << "counters() waited for the busy loop";
  LoopStats c = read.get();
  EXPECT_GE(c.wakeups, 3u);
  EXPECT_EQ(c.ops_in_flight, 0u);
  EXPECT_LE(c.wakeups, loop_->stats().wakeups) << "a later read stepped back";
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values(Backend::kUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& p) {
                           return std::string(p.param == Backend::kUring ? "uring" : "epoll");
                         });

}  // namespace
}  // namespace warren::uring
