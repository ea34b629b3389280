// The io_uring backend's own behaviour (the provided-buffer ring, submissions inside a batch,
// quiet sends), backend selection and ring features, over real loopback sockets (port 0).
// EventLoop behaviour common to both backends: event_loop_test.cc.
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
#include "common/uring/event_loop.h"
#include "common/uring/uring_features.h"

namespace warren::uring {
namespace {

using namespace std::chrono_literals;
using net::SocketAddress;
using net::SocketFactory;

constexpr auto kLimit = 5s;  // every wait in these tests is bounded by this

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
