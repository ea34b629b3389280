// The in-process data-path tier (data_path_fixture.h): what connections leave behind and what
// they cost: slow readers, idle tunnels, wake-ups, pooled connections idle, and the windows of
// streams reset with unread bytes.
#include "tests/ztunnel/data_path_fixture.h"

namespace warren::ztunnel {
namespace {

using namespace std::chrono_literals;
using namespace warren::ztunnel::testing;
using mesh::testing::pod;
using relay::testing::readToEof;
using relay::testing::setBlocking;
using relay::testing::ThreadedServer;
using relay::testing::writeAll;

class DataPathResourcesTest : public DataPathTest {};

TEST_P(DataPathResourcesTest, ManyIdleTunnelsLeaveNothingBehind) {
  relay::testing::LoopEchoServer upstream;
  startBoth();
  {
    auto first = appConnect(upstream.address());
    ASSERT_TRUE(echoes(first.get(), "x"));
  }
  ASSERT_TRUE(settled(client_) && settled(server_));
  std::this_thread::sleep_for(100ms);
  auto c0 = client_->stats();
  auto s0 = server_->stats();
  constexpr int kTunnels = 1000;
  std::vector<UniqueFd> apps;
  for (int i = 0; i < kTunnels; ++i) {
    apps.push_back(appConnect(upstream.address()));
    ASSERT_TRUE(echoes(apps.back().get(), "y")) << i;
  }
  auto c1 = client_->stats();
  auto s1 = server_->stats();
  EXPECT_EQ(c1.connections, static_cast<size_t>(kTunnels));
  EXPECT_EQ(s1.connections, static_cast<size_t>(kTunnels));
  EXPECT_EQ(c1.client_connections, static_cast<size_t>(kTunnels) / 100) << "100 streams each";
  apps.clear();
  ASSERT_TRUE(settled(client_) && settled(server_));
  std::this_thread::sleep_for(200ms);
  auto c2 = client_->stats();
  auto s2 = server_->stats();
  EXPECT_EQ(c2.connections, 0u);
  std::printf(
      "%d tunnels held: %zu/%zu loop operations (client/server), %zu/%zu after they "
      "closed (%zu/%zu before)\n",
      kTunnels, c1.loop_operations, s1.loop_operations, c2.loop_operations, s2.loop_operations,
      c0.loop_operations, s0.loop_operations);
  // What stays is the listeners (3) and the pooled connections, each with what the one pooled
  // connection before had (its read, keep-alive timer and idle clock).
  EXPECT_EQ(c2.loop_operations, 3 + (c0.loop_operations - 3) * c2.client_connections);
  EXPECT_EQ(c2.tracked_streams, 0u);
  EXPECT_EQ(s2.tracked_streams, 0u);
}

// Issue 12: the data path hands work to itself by posting to its own loop (stream deliveries,
// write completions); those posts used to write the loop's eventfd each time. Counted: 200
// round trips of 64 bytes through both ztunnels wake neither loop (the one wake-up each is the
// stats() call that reads the count, posted from this thread).
TEST_P(DataPathResourcesTest, RoundTripsDoNotWakeTheLoops) {
  relay::testing::LoopEchoServer upstream;
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(echoes(app.get(), "warm"));
  uint64_t c0 = client_->stats().loop_wakeups;
  uint64_t s0 = server_->stats().loop_wakeups;
  std::string msg(64, 'r');
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(echoes(app.get(), msg)) << i;
  uint64_t c1 = client_->stats().loop_wakeups;
  uint64_t s1 = server_->stats().loop_wakeups;
  std::printf("200 round trips of 64 B: %llu client and %llu server loop wake-ups\n",
              static_cast<unsigned long long>(c1 - c0), static_cast<unsigned long long>(s1 - s0));
  EXPECT_LE(c1 - c0, 1u);
  EXPECT_LE(s1 - s0, 1u);
}

// Issue 12: a send that fits the socket buffer and that nothing waits for (a relay or HBONE
// connection with nothing queued behind it) no longer costs the loop a wake-up of its own: the
// loop sleeps through its completion (uring::SendFollower). Counted through both ztunnels: each
// 64 B round trip makes two such sends per ztunnel (one each way), none late.
TEST_P(DataPathResourcesTest, RoundTripSendsAreQuiet) {
  relay::testing::LoopEchoServer upstream;
  startBoth();
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(echoes(app.get(), "warm"));
  auto c0 = client_->stats();
  auto s0 = server_->stats();
  std::string msg(64, 'q');
  constexpr uint64_t kRounds = 100;
  for (uint64_t i = 0; i < kRounds; ++i) ASSERT_TRUE(echoes(app.get(), msg)) << i;
  auto c1 = client_->stats();
  auto s1 = server_->stats();
  std::printf(
      "%llu round trips of 64 B: %llu client and %llu server quiet sends (%llu, %llu late)\n",
      static_cast<unsigned long long>(kRounds),
      static_cast<unsigned long long>(c1.quiet_sends - c0.quiet_sends),
      static_cast<unsigned long long>(s1.quiet_sends - s0.quiet_sends),
      static_cast<unsigned long long>(c1.quiet_sends_late - c0.quiet_sends_late),
      static_cast<unsigned long long>(s1.quiet_sends_late - s0.quiet_sends_late));
  if (GetParam() == uring::Backend::kEpoll) {
    EXPECT_EQ(c1.quiet_sends, 0u) << "epoll has no quiet sends";
    return;
  }
  // At least one quiet send per round trip and side (the reply to the app, or to the tunnel):
  // before, every one of them ended the loop's wait.
  EXPECT_GE(c1.quiet_sends - c0.quiet_sends, kRounds);
  EXPECT_GE(s1.quiet_sends - s0.quiet_sends, kRounds);
  EXPECT_EQ(c1.quiet_sends_late - c0.quiet_sends_late, 0u);
  EXPECT_EQ(s1.quiet_sends_late - s0.quiet_sends_late, 0u);
}

// Issue 16: a pooled connection that carries no tunnel for the idle timeout is closed with
// GOAWAY (both ztunnels let go of it); a tunnel open longer than that keeps it.
TEST_P(DataPathResourcesTest, PooledConnectionIdleForTheTimeoutIsClosed) {
  relay::testing::LoopEchoServer upstream;
  auto o = options();
  o.pool_idle_timeout = 300ms;
  startBoth(o, options());
  auto app = appConnect(upstream.address());
  ASSERT_TRUE(echoes(app.get(), "one"));
  std::this_thread::sleep_for(700ms);
  EXPECT_TRUE(echoes(app.get(), "still here")) << "a connection with a tunnel is not idle";
  EXPECT_EQ(client_->stats().client_connections, 1u);
  app.reset();
  bool closed = false;
  for (int i = 0; i < 300 && !closed; ++i) {
    closed = client_->stats().client_connections == 0 && server_->stats().server_connections == 0;
    if (!closed) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(closed) << "the idle pooled connection is still open";
  auto again = appConnect(upstream.address());
  EXPECT_TRUE(echoes(again.get(), "two"));
  EXPECT_EQ(sockets_->dials({kServerIp, 15008}), 2) << "the next tunnel dialled afresh";
}

// A stream reset by the peer while bytes it delivered still wait in the stream (the relay had
// not taken them: its other side was slow) must give those bytes back to the HBONE
// connection's window. They used to stay unconsumed for good: each such reset shrank the
// pooled connection's receive window and left the stream in the session's table, until the
// window was gone and every new tunnel on that connection stalled (the benchmark's third
// repeat and its profile, after thousands of connections). Counted: no stream may stay
// tracked, and a tunnel opened afterwards on the same connection still carries 32 MiB.
// Writes up to `bytes` without blocking for `limit` (until everything between the writer and
// a reader that does not read is full); returns how much went.
size_t pushFor(int fd, size_t bytes, std::chrono::milliseconds limit) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string data(1 << 20, 'p');
  size_t sent = 0;
  auto until = std::chrono::steady_clock::now() + limit;
  while (sent < bytes && std::chrono::steady_clock::now() < until) {
    ssize_t w = ::send(fd, data.data(), std::min(data.size(), bytes - sent), MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<size_t>(w);
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  return sent;
}

void resetOnClose(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

TEST_P(DataPathResourcesTest, StreamsResetWithUnreadBytesGiveTheirWindowBack) {
  // More than the socket buffers, the relay and a stream window can hold together, so the
  // receiving ztunnel's stream holds undelivered bytes when the reset comes.
  constexpr size_t kPush = 32 << 20;
  std::atomic<bool> release{false};
  // Reads nothing until released: the server ztunnel keeps what the client sent.
  ThreadedServer sleepy([&](int fd) {
    while (!release) std::this_thread::sleep_for(10ms);
    (void)relay::testing::hashToEof(fd);
  });
  // Sends until stuck, then resets: the client ztunnel keeps what the app has not read.
  ThreadedServer blurt([&](int fd) {
    pushFor(fd, kPush, 1s);
    resetOnClose(fd);
  });
  ThreadedServer echo([](int fd) {
    std::vector<char> buf(64 << 10);
    for (;;) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0 || !writeAll(fd, buf.data(), static_cast<size_t>(n))) break;
    }
    ::shutdown(fd, SHUT_WR);
  });
  auto client_o = options();
  client_o.pool_spread.connections = 1;  // every reset on the one connection whose window counts
  startBoth(client_o, options());
  // Each leak was up to one stream window (4 MiB) of the 16 MiB connection window: 5 rounds
  // used to leave the pooled connection unable to carry a byte.
  for (int i = 0; i < 5; ++i) {
    // The app sends until stuck, then resets: the RST_STREAM reaches a server stream that
    // holds bytes the upstream has not taken.
    auto app = appConnect(sleepy.address());
    EXPECT_GT(pushFor(app.get(), kPush, 1s), 0u);
    resetOnClose(app.get());
    app.reset();
    // The upstream sends until stuck and resets while the app does not read: the server's
    // RST_STREAM reaches a client stream that holds bytes the app has not taken.
    auto quiet = appConnect(blurt.address());
    std::this_thread::sleep_for(1200ms);
    quiet.reset();
  }
  release = true;
  ASSERT_TRUE(settled(client_) && settled(server_));
  std::this_thread::sleep_for(200ms);
  auto c = client_->stats();
  auto s = server_->stats();
  EXPECT_EQ(c.client_connections, 1u) << "every tunnel rode the one pooled connection";
  EXPECT_EQ(c.tracked_streams, 0u) << "client: streams left with unconsumed bytes";
  EXPECT_EQ(s.tracked_streams, 0u) << "server: streams left with unconsumed bytes";
  // The pooled connection's windows are whole: 32 MiB (twice the 16 MiB connection window)
  // go through a new tunnel on it, both ways.
  auto app = appConnect(echo.address());
  std::promise<std::pair<std::string, size_t>> back;
  std::thread reader([&] { back.set_value(relay::testing::hashToEof(app.get())); });
  std::string sent = relay::testing::sendPayload(app.get(), 5, 32 << 20);
  ::shutdown(app.get(), SHUT_WR);
  auto got = back.get_future();
  bool ready = got.wait_for(30s) == std::future_status::ready;
  if (!ready) ::shutdown(app.get(), SHUT_RDWR);  // unblock the reader
  reader.join();
  ASSERT_TRUE(ready) << "the tunnel stalled";
  EXPECT_EQ(got.get(), std::make_pair(sent, size_t{32 << 20}));
  EXPECT_EQ(client_->stats().client_connections, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DataPathResourcesTest,
                         ::testing::Values(uring::Backend::kUring, uring::Backend::kEpoll),
                         backendParamName);

}  // namespace
}  // namespace warren::ztunnel
