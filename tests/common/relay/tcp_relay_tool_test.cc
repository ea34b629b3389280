// warren-tcp-relay as a process: flags, the "listening on" line, relaying, clean SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>

#include "test_peers.h"

namespace warren::relay {
namespace {

using namespace std::chrono_literals;
using namespace warren::relay::testing;

std::string toolPath() {
  // ctest sets WARREN_BIN_DIR; run by hand, the tool sits in ../bin next to tests/.
  if (const char* dir = std::getenv("WARREN_BIN_DIR"))
    return std::string(dir) + "/warren-tcp-relay";
  char self[4096] = {};
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string exe(self, n > 0 ? static_cast<size_t>(n) : 0);
  return exe.substr(0, exe.rfind('/')) + "/../bin/warren-tcp-relay";
}

struct Spawned {
  pid_t pid = -1;
  FILE* out = nullptr;
  ~Spawned() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out) std::fclose(out);
  }
};

// Starts the tool with `args`; its stdout is readable from `out`.
bool spawn(Spawned& s, std::vector<std::string> args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  s.pid = ::fork();
  if (s.pid == 0) {
    ::dup2(fds[1], 1);
    std::vector<char*> argv;
    std::string path = toolPath();
    argv.push_back(path.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  s.out = ::fdopen(fds[0], "r");
  return s.pid > 0;
}

// (backend, engine)
class TcpRelayToolTest : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(TcpRelayToolTest, RelaysAndStopsOnSigterm) {
  ThreadedServer upstream([](int fd) {
    auto data = readToEof(fd);
    writeAll(fd, data.data(), data.size());
  });
  Spawned s;
  ASSERT_TRUE(spawn(s, {"--listen", "127.0.0.1:0", "--upstream", upstream.address().toString(),
                        "--workers", "2", "--backend", std::get<0>(GetParam()), "--engine",
                        std::get<1>(GetParam()), "--log-level", "warn"}));
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), s.out), nullptr) << "tool printed nothing";
  std::string text(line);
  ASSERT_EQ(text.rfind("listening on ", 0), 0u) << text;
  auto addr = net::SocketAddress::parse(text.substr(13, text.size() - 14));
  ASSERT_TRUE(addr) << text;
  for (int i = 0; i < 5; ++i) {
    auto c = connectTo(*addr, 10s);
    ASSERT_TRUE(c);
    std::string msg = "through the tool " + std::to_string(i);
    ASSERT_TRUE(writeAll(c.get(), msg.data(), msg.size()));
    ::shutdown(c.get(), SHUT_WR);
    EXPECT_EQ(readToEof(c.get()), msg);
  }
  ASSERT_EQ(::kill(s.pid, SIGTERM), 0);
  int status = 0;
  for (int i = 0; i < 500 && ::waitpid(s.pid, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(WIFEXITED(status)) << "tool did not exit on SIGTERM";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  s.pid = -1;
  ASSERT_NE(std::fgets(line, sizeof(line), s.out), nullptr);
  EXPECT_EQ(std::string(line).rfind("connections 5 ", 0), 0u) << line;
  // Every relay on the engine asked for.
  std::string engine = std::get<1>(GetParam());
  EXPECT_NE(std::string(line).find(engine == "splice" ? " splice 5 copy 0" : " splice 0 copy 5"),
            std::string::npos)
      << line;
}

INSTANTIATE_TEST_SUITE_P(BackendsAndEngines, TcpRelayToolTest,
                         ::testing::Combine(::testing::Values("uring", "epoll"),
                                            ::testing::Values("copy", "splice")));

TEST(TcpRelayToolFlagsTest, BadFlagsExitTwoWithAMessage) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--listen", "127.0.0.1:0"},
           {"--listen", "nonsense", "--upstream", "127.0.0.1:1"},
           {"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--backend", "kqueue"},
           {"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--engine", "sendfile"},
           {"--bogus", "1"}}) {
    Spawned s;
    ASSERT_TRUE(spawn(s, args));
    int status = 0;
    ASSERT_EQ(::waitpid(s.pid, &status, 0), s.pid);
    s.pid = -1;
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 2) << args[0];
  }
}

}  // namespace
}  // namespace warren::relay
