// SocketStream's sends: a reply nothing waits for is a quiet send (the loop sleeps through its
// completion), except on a socket whose records the kernel seals (kTLS refuses the
// MSG_WAITALL a quiet send is made with).
#include "common/relay/socket_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/uring/event_loop.h"
#include "common/uring/uring_features.h"

namespace warren::relay {
namespace {

using namespace std::chrono_literals;

// Echoes every byte it reads as an 'r'; nothing waits for the reply's completion.
struct Echo final : StreamEvents {
  SocketStream* stream = nullptr;
  int written = 0;
  void onData(std::span<const char> data) override {
    stream->write(uring::Buffer(data.size(), 'r'));
    stream->read(64);
  }
  void onReadEof() override {}
  void onWritten(size_t, uring::Buffer) override { ++written; }
  void onError(const Error& e) override { ADD_FAILURE() << e.message(); }
  bool waitsForWrite() override { return false; }
};

// Quiet sends over `rounds` one-byte round trips through a SocketStream.
uint64_t quietSends(bool kernel_tls, int rounds) {
  uring::LoopOptions o;
  o.backend = uring::Backend::kUring;
  o.fallback_to_epoll = false;
  auto loop = uring::EventLoop::create(o);
  EXPECT_TRUE(loop) << loop.error().message();
  if (!loop) return 0;
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  timeval tv{2, 0};
  ::setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto stream = std::make_unique<SocketStream>(**loop, UniqueFd(fds[0]));
  Echo echo;
  echo.stream = stream.get();
  stream->setEvents(&echo);
  if (kernel_tls) stream->sendThroughKernelTls();
  stream->read(64);
  std::atomic<bool> done{false};
  std::thread peer([&] {
    char c;
    for (int i = 0; i < rounds; ++i) {
      if (::send(fds[1], "p", 1, 0) != 1 || ::recv(fds[1], &c, 1, 0) != 1) break;
    }
    done = true;
    (*loop)->post([] {});
  });
  uint64_t before = (*loop)->stats().quiet_sends;
  for (int turns = 0; !done && turns < 100000; ++turns) (*loop)->runOnce(2s);
  peer.join();
  (*loop)->runOnce(10ms);  // the last completions
  uint64_t quiet = (*loop)->stats().quiet_sends - before;
  EXPECT_EQ(echo.written, rounds);
  stream.reset();
  (*loop)->runOnce(0ms);
  ::close(fds[1]);
  return quiet;
}

TEST(SocketStream, SendsThroughKernelTlsAreNotQuiet) {
  auto features = uring::probeRingFeatures();
  ASSERT_TRUE(features) << features.error().message();
  if (!features->send_waitall) GTEST_SKIP() << "quiet sends need MSG_WAITALL on sends (6.0)";
  constexpr int kRounds = 30;
  EXPECT_GE(quietSends(false, kRounds), uint64_t{kRounds / 2}) << "the control: replies are quiet";
  EXPECT_EQ(quietSends(true, kRounds), 0u);
}

}  // namespace
}  // namespace warren::relay
