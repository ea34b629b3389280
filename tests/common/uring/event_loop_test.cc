// EventLoop behaviour on both backends, over real loopback sockets (port 0).
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

// The provided-buffer ring runs dry when more receives complete at once than it has buffers:
// -ENOBUFS must re-arm, never surface, and every byte must still arrive.
TEST(UringBufferRingTest, ExhaustionRecovers) {
  LoopOptions o;
  o.backend = Backend::kUring;
  o.fallback_to_epoll = false;
  o.recv_buffer_count = 2;
  o.recv_buffer_size = 64;
  auto loop = EventLoop::create(o);
  ASSERT_TRUE(loop) << loop.error().message();
  auto l = SocketFactory::listenTcp(SocketAddress::loopbackV4(0), {});
  ASSERT_TRUE(l);
  auto addr = *net::localAddress(l->get());
  constexpr int kConns = 8;
  constexpr size_t kBytes = 4000;
  std::vector<int> clients, servers;
  (*loop)->acceptMultishot(l->get(), [&](int res) {
    if (res >= 0) servers.push_back(res);
  });
  for (int i = 0; i < kConns; ++i) {
    auto c = SocketFactory::tcpSocket(AF_INET, {});
    ASSERT_TRUE(c);
    clients.push_back(c->release());
    (*loop)->connect(clients.back(), addr.toSockaddr().get(), addr.toSockaddr().length,
                     [](int r) { EXPECT_EQ(r, 0); });
  }
  ASSERT_TRUE((*loop)->runUntil([&] { return servers.size() == kConns; }, kLimit));
  // Data is waiting on every socket before any receive is armed, so the first batch of
  // receives completes at once and drains the two buffers.
  for (int fd : clients) {
    std::string payload(kBytes, static_cast<char>('a' + (fd % 26)));
    ASSERT_EQ(::send(fd, payload.data(), payload.size(), 0), static_cast<ssize_t>(kBytes));
  }
  std::vector<size_t> got(kConns, 0);
  std::vector<int> errors;
  for (int i = 0; i < kConns; ++i)
    (*loop)->recvMultishot(servers[i], [&, i](int res, std::span<const char> d) {
      if (res > 0)
        got[i] += d.size();
      else
        errors.push_back(res);
    });
  ASSERT_TRUE((*loop)->runUntil(
      [&] {
        for (size_t g : got)
          if (g < kBytes) return false;
        return true;
      },
      kLimit));
  EXPECT_TRUE(errors.empty()) << "first error " << errors.front();
  EXPECT_GT((*loop)->stats().enobufs_rearms, 0u) << "the ring never ran dry: test is not testing";
  for (int fd : clients) (*loop)->close(fd);
  for (int fd : servers) (*loop)->close(fd);
}

// Issue 12: what callbacks submit goes to the kernel every LoopOptions::submit_every
// completions of a batch, not only once the whole batch (up to 2,048) is handled. 32 receives
// complete in one batch (their data waits before they are armed); the first callback sends a
// byte on a socket pair, and the later callbacks of the same batch look for it on the other
// end. With submit_every 8 it is there by the 9th; with 0 (flush between batches only) never
// inside the batch, which shows the test can fail.
TEST(UringSubmitTest, SubmissionsLeaveInsideABatch) {
  // Index of the first callback of the batch that saw the byte (-1: none did), and how many of
  // the 32 callbacks ran in the first runOnce().
  auto run = [](unsigned submit_every) -> std::pair<int, size_t> {
    LoopOptions o;
    o.backend = Backend::kUring;
    o.fallback_to_epoll = false;
    o.submit_every = submit_every;
    auto loop = EventLoop::create(o);
    EXPECT_TRUE(loop) << loop.error().message();
    if (!loop) return {-2, 0};
    constexpr int kRecvs = 32;
    std::vector<std::array<int, 2>> pairs(kRecvs);
    for (auto& p : pairs) {
      EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p.data()), 0);
      EXPECT_EQ(::send(p[1], "d", 1, 0), 1);
    }
    int signal[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, signal), 0);
    int calls = 0, first_seen = -1;
    for (auto& p : pairs) {
      (*loop)->recv(p[0], 1, [&](int res, std::span<const char>) {
        EXPECT_EQ(res, 1);
        int me = calls++;
        if (me == 0) {
          (*loop)->send(signal[0], Buffer{'x'}, 0, [](int r, Buffer) { EXPECT_EQ(r, 1); });
          return;
        }
        char c;
        if (first_seen < 0 && ::recv(signal[1], &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
          first_seen = me;
      });
    }
    (*loop)->runOnce(kLimit);
    size_t in_first_batch = static_cast<size_t>(calls);
    (*loop)->runUntil([&] { return calls == kRecvs; }, kLimit);
    for (auto& p : pairs) {
      (*loop)->close(p[0]);
      ::close(p[1]);
    }
    (*loop)->close(signal[0]);
    ::close(signal[1]);
    (*loop)->runOnce(std::chrono::milliseconds(0));
    return {first_seen, in_first_batch};
  };
  auto [seen, batch] = run(8);
  ASSERT_EQ(batch, 32u) << "the receives did not complete in one batch: test is not testing";
  EXPECT_GE(seen, 1);
  EXPECT_LE(seen, 8) << "the send left only after the batch";
  auto [seen_off, batch_off] = run(0);
  ASSERT_EQ(batch_off, 32u);
  EXPECT_EQ(seen_off, -1) << "submit_every 0 flushed inside the batch";
}

TEST(BackendSelectionTest, ParseAndEnvironment) {
  EXPECT_EQ(*parseBackend("uring"), Backend::kUring);
  EXPECT_EQ(*parseBackend("io_uring"), Backend::kUring);
  EXPECT_EQ(*parseBackend("epoll"), Backend::kEpoll);
  auto bad = parseBackend("kqueue");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("kqueue"), std::string::npos);

  const char* old = std::getenv("WARREN_IO_BACKEND");
  std::string saved = old ? old : "";
  ::setenv("WARREN_IO_BACKEND", "epoll", 1);
  EXPECT_EQ(*backendFromEnvironment(), Backend::kEpoll);
  ::setenv("WARREN_IO_BACKEND", "nope", 1);
  auto env_bad = backendFromEnvironment();
  ASSERT_FALSE(env_bad);
  EXPECT_NE(env_bad.error().message().find("WARREN_IO_BACKEND"), std::string::npos);
  ::unsetenv("WARREN_IO_BACKEND");
  EXPECT_EQ(*backendFromEnvironment(), Backend::kUring);
  if (old) ::setenv("WARREN_IO_BACKEND", saved.c_str(), 1);
}

TEST(RingFeaturesTest, ProbeOnThisKernel) {
  auto f = probeRingFeatures();
  ASSERT_TRUE(f) << f.error().message();
  auto [major, minor] = kernelVersion();
  EXPECT_GT(major, 0);
  if (major > 6 || (major == 6 && minor >= 1)) {
    EXPECT_TRUE(f->single_issuer);
    EXPECT_TRUE(f->defer_taskrun);
  }
  EXPECT_NE(f->describe().find("io_uring:"), std::string::npos);
}

TEST(LoopCreationTest, BadBufferRingIsAPreciseError) {
  LoopOptions o;
  o.backend = Backend::kUring;
  o.fallback_to_epoll = false;
  o.recv_buffer_count = 3;
  auto loop = EventLoop::create(o);
  ASSERT_FALSE(loop);
  EXPECT_NE(loop.error().message().find("power of two"), std::string::npos);
  o.fallback_to_epoll = true;  // the fallback covers any io_uring set-up failure
  auto fallback = EventLoop::create(o);
  ASSERT_TRUE(fallback);
  EXPECT_EQ((*fallback)->backend(), Backend::kEpoll);
}

// Quiet sends (SendFollower, io_uring): a send that fits completes inside the io_uring_enter that
// submits it; when its follower does not wait for it the loop sleeps through that completion
// instead of waking once more for it. The peer below is a thread on a blocking socket with a
// receive timeout (2 s) far below the loop's quiet wait (10 s): a loop that sleeps through a
// completion somebody waits for makes the peer time out instead of only slowing it down.
class UringQuietSendTest : public ::testing::Test {
 protected:
  struct Follower final : SendFollower {
    bool waits = false;
    int asked = 0;
    bool waitsForSend() override {
      ++asked;
      return waits;
    }
  };

  void SetUp() override {
    auto features = probeRingFeatures();
    ASSERT_TRUE(features) << features.error().message();
    if (!features->send_waitall) GTEST_SKIP() << "quiet sends need MSG_WAITALL on sends (6.0)";
    LoopOptions o;
    o.backend = Backend::kUring;
    o.fallback_to_epoll = false;
    o.quiet_send_wait = 10s;
    auto loop = EventLoop::create(o);
    ASSERT_TRUE(loop) << loop.error().message();
    loop_ = std::move(*loop);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    ASSERT_EQ(::fcntl(fds_[0], F_SETFL, O_NONBLOCK), 0);
    timeval tv{2, 0};
    ASSERT_EQ(::setsockopt(fds_[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  }
  void TearDown() override {
    if (peer_.joinable()) peer_.join();
    if (loop_) {
      loop_->close(fds_[0]);
      loop_->runOnce(0ms);
    }
    if (fds_[1] >= 0) ::close(fds_[1]);
  }

  // The peer sends one byte `rounds` times and each time reads `replies` bytes back.
  void startPeer(int rounds, size_t replies) {
    peer_ = std::thread([this, rounds, replies] {
      for (int i = 0; i < rounds; ++i) {
        if (::send(fds_[1], "p", 1, 0) != 1) break;
        size_t got = 0;
        char buf[64];
        while (got < replies) {
          ssize_t n = ::recv(fds_[1], buf, sizeof buf, 0);
          if (n <= 0) break;
          got += static_cast<size_t>(n);
        }
        if (got < replies) break;
        rounds_done_.fetch_add(1);
      }
      peer_done_.store(true);
      loop_->post([] {});  // wakes the loop to see it
    });
  }
  // Runs the loop until the peer is done; returns the loop turns it took.
  int runUntilPeerDone() {
    int turns = 0;
    while (!peer_done_.load() && turns < 100000) {
      loop_->runOnce(5s);
      ++turns;
    }
    return turns;
  }

  std::unique_ptr<EventLoop> loop_;
  int fds_[2] = {-1, -1};
  std::thread peer_;
  std::atomic<int> rounds_done_{0};
  std::atomic<bool> peer_done_{false};
};

TEST_F(UringQuietSendTest, ARoundTripIsOneLoopTurn) {
  constexpr int kRounds = 40;
  Follower follower;
  bool via_tasks = false;
  // One recv chain for every run below (a second chain on the same socket would race it).
  std::function<void()> arm = [&] {
    loop_->recv(fds_[0], 64, [&](int res, std::span<const char>) {
      if (res <= 0) return;
      auto reply = [&] {
        loop_->send(
            fds_[0], Buffer{'r'}, 0, [](int r, Buffer) { EXPECT_EQ(r, 1); }, &follower);
      };
      if (via_tasks)  // a task posting a task that replies: the turn still ends in one wait
        loop_->post([&, reply] { loop_->post(reply); });
      else
        reply();
      arm();
    });
  };
  arm();
  auto run = [&](bool follower_waits) {
    follower.waits = follower_waits;
    follower.asked = 0;
    rounds_done_ = 0;
    peer_done_ = false;
    startPeer(kRounds, 1);
    int turns = runUntilPeerDone();
    peer_.join();
    EXPECT_EQ(rounds_done_.load(), kRounds);
    EXPECT_GE(follower.asked, kRounds - 1);
    return turns;
  };
  auto before = loop_->stats().quiet_sends;
  int quiet_turns = run(false);
  EXPECT_GE(loop_->stats().quiet_sends - before, uint64_t{kRounds - 1});
  // Each round: the wake-up with the peer's byte, whose reply is submitted with the next wait.
  EXPECT_LE(quiet_turns, kRounds + kRounds / 4);
  before = loop_->stats().quiet_sends;
  int awaited_turns = run(true);
  EXPECT_EQ(loop_->stats().quiet_sends - before, 0u);
  // A follower that waits gets its completion before the loop sleeps: a turn more per round.
  EXPECT_GE(awaited_turns, 2 * kRounds - kRounds / 4);
  via_tasks = true;
  before = loop_->stats().quiet_sends;
  int task_turns = run(false);
  EXPECT_GE(loop_->stats().quiet_sends - before, uint64_t{kRounds - 1});
  EXPECT_LE(task_turns, kRounds + kRounds / 4) << "posted tasks cost a turn of their own";
}

TEST_F(UringQuietSendTest, AFollowerThatWaitsGetsItsCompletionBeforeTheLoopSleeps) {
  constexpr int kRounds = 10;
  Follower follower;
  follower.waits = true;  // its completion sends the second byte the peer waits for
  std::function<void()> arm = [&] {
    loop_->recv(fds_[0], 64, [&](int res, std::span<const char>) {
      if (res <= 0) return;
      loop_->send(
          fds_[0], Buffer{'1'}, 0,
          [&](int r, Buffer) {
            EXPECT_EQ(r, 1);
            loop_->send(fds_[0], Buffer{'2'}, 0, [](int, Buffer) {});
          },
          &follower);
      arm();
    });
  };
  arm();
  startPeer(kRounds, 2);
  runUntilPeerDone();
  EXPECT_EQ(rounds_done_.load(), kRounds) << "the loop slept through an awaited send";
}

TEST_F(UringQuietSendTest, ASocketStreamWithWritesQueuedIsNotQuiet) {
  // The stream's user does not wait for onWritten; the stream itself does, with a second write
  // queued behind the first.
  struct Events : relay::StreamEvents {
    relay::SocketStream* stream = nullptr;
    void onData(std::span<const char>) override {
      stream->write(Buffer{'a'});
      stream->write(Buffer{'b'});  // queued: goes out from the first write's completion
      stream->read(64);
    }
    void onReadEof() override {}
    void onWritten(size_t, Buffer) override {}
    void onError(const Error&) override {}
    bool waitsForWrite() override { return false; }
  } events;
  relay::SocketStream s(*loop_, UniqueFd(::dup(fds_[0])));
  events.stream = &s;
  s.setEvents(&events);
  s.read(64);
  constexpr int kRounds = 10;
  startPeer(kRounds, 2);
  runUntilPeerDone();
  EXPECT_EQ(rounds_done_.load(), kRounds) << "the loop slept through a send with writes queued";
  // The second write of each round has nothing behind it: that one is quiet.
  EXPECT_GE(loop_->stats().quiet_sends, uint64_t{kRounds - 1});
  s.close();
}

TEST_F(UringQuietSendTest, TheRestOfAShortSendIsNotQuiet) {
  // A send too large to be quiet comes back short on a full socket buffer; the rest would fit
  // the quiet size but not the buffer, so it must not be counted (it would hold up the loop's
  // wait until the socket drains, up to quiet_send_wait).
  int small = 4096;
  ASSERT_EQ(::setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  struct Events : relay::StreamEvents {
    size_t written = 0;
    void onData(std::span<const char>) override {}
    void onReadEof() override {}
    void onWritten(size_t n, Buffer) override { written += n; }
    void onError(const Error&) override {}
    bool waitsForWrite() override { return false; }
  } events;
  relay::SocketStream s(*loop_, UniqueFd(::dup(fds_[0])));
  s.setEvents(&events);
  constexpr size_t kBytes = 40 * 1024;  // over the quiet limit (32 KiB); the rest is under it
  s.write(Buffer(kBytes, 'x'));
  std::atomic<size_t> got{0};
  peer_ = std::thread([&] {
    std::this_thread::sleep_for(100ms);  // the buffer stays full meanwhile
    char buf[8192];
    while (got.load() < kBytes) {
      ssize_t n = ::recv(fds_[1], buf, sizeof buf, 0);
      if (n <= 0) break;
      got.fetch_add(static_cast<size_t>(n));
    }
    peer_done_.store(true);
    loop_->post([] {});
  });
  runUntilPeerDone();
  ASSERT_TRUE(loop_->runUntil([&] { return events.written == kBytes; }, kLimit));
  EXPECT_EQ(got.load(), kBytes);
  EXPECT_EQ(loop_->stats().quiet_sends_late, 0u) << "the rest of a short send was counted";
  s.close();
}

}  // namespace
}  // namespace warren::uring
