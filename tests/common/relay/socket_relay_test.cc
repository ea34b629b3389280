// makeSocketRelay on its own loop, driven in this thread: the engine it picks (SpliceRelay when
// asked and its pipes can be had, the copy relay when not), counted; half-close both ways and
// the bytes intact on either engine.
#include "common/relay/socket_relay.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <string>

#include "common/relay/stream_relay.h"
#include "test_peers.h"

namespace warren::relay {
namespace {

using namespace std::chrono_literals;
using namespace warren::relay::testing;

// The relay's two sockets (a, b) and the test's peers on them (pa talks to a, pb to b).
struct Pairs {
  UniqueFd pa, a, pb, b;
};

Pairs makePairs() {
  Pairs p;
  for (int i = 0; i < 2; ++i) {
    auto l = net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(0), {});
    EXPECT_TRUE(l);
    auto peer = connectTo(*net::localAddress(l->get()), 10s);
    UniqueFd accepted(::accept4(l->get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    EXPECT_TRUE(peer && accepted);
    (i == 0 ? p.pa : p.pb) = std::move(peer);
    (i == 0 ? p.a : p.b) = std::move(accepted);
  }
  return p;
}

class SocketRelayTest : public ::testing::TestWithParam<uring::Backend> {
 protected:
  void SetUp() override {
    uring::LoopOptions o;
    o.backend = GetParam();
    o.fallback_to_epoll = false;
    auto l = uring::EventLoop::create(o);
    ASSERT_TRUE(l) << l.error().message();
    loop_ = std::move(*l);
  }

  // Both peers send, then half-close; runs the relay to its end; returns what each peer got.
  std::pair<std::string, std::string> exchange(Pairs& p, Relay& relay, bool& done) {
    EXPECT_TRUE(writeAll(p.pa.get(), "ping from a", 11));
    EXPECT_EQ(::shutdown(p.pa.get(), SHUT_WR), 0);
    EXPECT_TRUE(writeAll(p.pb.get(), "pong from b!", 12));
    EXPECT_EQ(::shutdown(p.pb.get(), SHUT_WR), 0);
    relay.start();
    EXPECT_TRUE(loop_->runUntil([&] { return done; }, 10s)) << "the relay did not end";
    return {readToEof(p.pa.get()), readToEof(p.pb.get())};
  }

  std::unique_ptr<uring::EventLoop> loop_;
};

TEST_P(SocketRelayTest, SpliceWhenAskedHalfClosesBothWays) {
  auto& c = socketRelayCounters();
  uint64_t splice0 = c.splice, copy0 = c.copy;
  Pairs p = makePairs();
  bool done = false;
  std::optional<Error> error;
  RelayStats final;
  auto relay = makeSocketRelay(*loop_, std::move(p.a), std::move(p.b), SocketRelayEngine::kSplice,
                               [&](const RelayStats& s, const std::optional<Error>& e) {
                                 final = s;
                                 error = e;
                                 done = true;
                               });
  EXPECT_EQ(c.splice - splice0, 1u);
  EXPECT_EQ(c.copy - copy0, 0u);
  auto [got_a, got_b] = exchange(p, *relay, done);
  EXPECT_EQ(got_a, "pong from b!");
  EXPECT_EQ(got_b, "ping from a");
  EXPECT_FALSE(error) << error->message();
  EXPECT_EQ(final.a_to_b.bytes, 11u);
  EXPECT_EQ(final.b_to_a.bytes, 12u);
  EXPECT_TRUE(final.a_to_b.eof && final.b_to_a.eof);
  EXPECT_EQ(final.memory_bytes, 0u) << "splice holds nothing in user space";
}

// No pipe to be had (the fd limit reached): the copy relay takes the sockets, counted, and the
// connection works all the same.
TEST_P(SocketRelayTest, FallsBackToCopyWhenNoPipeCanBeHad) {
  auto& c = socketRelayCounters();
  uint64_t splice0 = c.splice, copy0 = c.copy, refused0 = c.splice_refused;
  Pairs p = makePairs();
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Room for exactly one pipe: the relay's first pipe is made, its second is refused, so it
  // must give the first back and fall back to copy. (Room for none tests less, and breaks
  // make asan: UBSan's type checks probe memory through a pipe of their own, and with no fd
  // left they report a false "invalid vptr" on the first polymorphic object they meet.)
  int lowest_free = ::dup(0);
  int next_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  ::close(next_free);
  rlimit tight = saved;
  // The two lowest free fds are the only ones below the limit (dup takes the lowest).
  tight.rlim_cur = static_cast<rlim_t>(next_free + 1);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  bool done = false;
  std::optional<Error> error;
  auto relay = makeSocketRelay(*loop_, std::move(p.a), std::move(p.b), SocketRelayEngine::kSplice,
                               [&](const RelayStats&, const std::optional<Error>& e) {
                                 error = e;
                                 done = true;
                               });
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(c.splice - splice0, 0u);
  EXPECT_EQ(c.copy - copy0, 1u);
  EXPECT_EQ(c.splice_refused - refused0, 1u);
  EXPECT_NE(dynamic_cast<StreamRelay*>(relay.get()), nullptr);
  auto [got_a, got_b] = exchange(p, *relay, done);
  EXPECT_EQ(got_a, "pong from b!");
  EXPECT_EQ(got_b, "ping from a");
  EXPECT_FALSE(error) << error->message();
}

TEST_P(SocketRelayTest, CopyWhenAsked) {
  auto& c = socketRelayCounters();
  uint64_t splice0 = c.splice, copy0 = c.copy, refused0 = c.splice_refused;
  Pairs p = makePairs();
  bool done = false;
  auto relay =
      makeSocketRelay(*loop_, std::move(p.a), std::move(p.b), SocketRelayEngine::kCopy,
                      [&](const RelayStats&, const std::optional<Error>&) { done = true; });
  EXPECT_EQ(c.copy - copy0, 1u);
  EXPECT_EQ(c.splice - splice0, 0u);
  EXPECT_EQ(c.splice_refused - refused0, 0u);
  auto [got_a, got_b] = exchange(p, *relay, done);
  EXPECT_EQ(got_a, "pong from b!");
  EXPECT_EQ(got_b, "ping from a");
}

// A peer that resets: the splice relay ends with the error, once, and closes the other side.
TEST_P(SocketRelayTest, SpliceRelayEndsOnReset) {
  Pairs p = makePairs();
  int done = 0;
  std::optional<Error> error;
  auto relay = makeSocketRelay(*loop_, std::move(p.a), std::move(p.b), SocketRelayEngine::kSplice,
                               [&](const RelayStats&, const std::optional<Error>& e) {
                                 error = e;
                                 ++done;
                               });
  relay->start();
  linger lg{1, 0};  // close with RST
  ::setsockopt(p.pa.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  p.pa.reset();
  EXPECT_TRUE(loop_->runUntil([&] { return done > 0; }, 10s));
  EXPECT_EQ(done, 1);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message().find("reset"), std::string::npos) << error->message();
  char b;
  EXPECT_LE(::recv(p.pb.get(), &b, 1, 0), 0) << "the other side must be closed";
}

INSTANTIATE_TEST_SUITE_P(Backends, SocketRelayTest,
                         ::testing::Values(uring::Backend::kUring, uring::Backend::kEpoll),
                         [](const ::testing::TestParamInfo<uring::Backend>& p) {
                           return std::string(p.param == uring::Backend::kUring ? "uring"
                                                                                : "epoll");
                         });

}  // namespace
}  // namespace warren::relay
