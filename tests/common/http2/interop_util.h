// Helpers for interop tests over real loopback TCP: child processes we start (killed by pid
// and reaped), a loop driving one Session over a socket, loopback listeners.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/http2/session.h"
#include "common/unique_fd.h"

extern char** environ;

namespace warren::http2::testing {

inline std::string scriptPath(const char* name) {
  const char* src = std::getenv("WARREN_SOURCE_DIR");
  std::filesystem::path root = src ? src : WARREN_TEST_SOURCE_DIR;
  return (root / "tests/common/http2" / name).string();
}

inline bool havePythonH2() {
  return std::system("/usr/bin/python3 -c 'import h2' >/dev/null 2>&1") == 0;
}

// A child process we started; killed (by its pid) and reaped on destruction.
class Child {
 public:
  Child(std::vector<std::string> argv, bool capture_stdout) {
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (capture_stdout) {
      EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
      posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "spawn " << argv[0];
    if (capture_stdout) {
      close(fds[1]);
      out_.reset(fds[0]);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // First line of stdout, waiting at most `timeout`.
  std::string readLine(std::chrono::milliseconds timeout) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_.get(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char c;
      if (read(out_.get(), &c, 1) != 1) break;
      if (c == '\n') return line;
      line.push_back(c);
    }
    return line;
  }
  // All of stdout until EOF, waiting at most `timeout`.
  std::string readAll(std::chrono::milliseconds timeout) {
    std::string all;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_.get(), POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(out_.get(), buf, sizeof buf);
      if (n <= 0) break;
      all.append(buf, static_cast<size_t>(n));
    }
    return all;
  }
  // Exit status, or -1 if it did not exit in time.
  int wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      usleep(10'000);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd out_;
};

// Runs a session over a connected socket until done() or the deadline. `each` runs every
// round (feeding data). Returns done().
inline bool drive(int fd, Session& s, const std::function<bool()>& done,
                  const std::function<void()>& each, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<uint8_t> buf(64 << 10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (each) each();
    auto out = s.pendingOutput();
    if (!out.empty()) {
      ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) s.drainOutput(static_cast<size_t>(n));
    }
    if (done()) return true;
    pollfd p{fd, static_cast<short>(POLLIN | (s.wantsWrite() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 20) <= 0) continue;
    if (p.revents & (POLLIN | POLLHUP)) {
      ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0) return done();
      if (n > 0) {
        auto st = s.dispatch({buf.data(), static_cast<size_t>(n)});
        EXPECT_TRUE(st.has_value()) << st.error().message();
        if (!st) return false;
      }
    }
  }
  return done();
}

inline UniqueFd listenLoopback(uint16_t& port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(listen(fd.get(), 4), 0);
  socklen_t len = sizeof a;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// Connects to 127.0.0.1:port, retrying until `timeout` (a server still starting up).
inline UniqueFd connectLoopback(uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    if (std::chrono::steady_clock::now() >= deadline) return UniqueFd();
    usleep(20'000);
  }
}

// A port free right now on 127.0.0.1 (for servers that cannot report the one they bound).
inline uint16_t freeLoopbackPort() {
  uint16_t port = 0;
  UniqueFd fd = listenLoopback(port);
  return port;
}

}  // namespace warren::http2::testing
