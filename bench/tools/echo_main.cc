// warren-bench-echo: a single-threaded epoll TCP echo server for the request/response,
// connection-rate and idle-connection loads (10,000+ connections without a thread each).
// Runs until killed. Exit 2 on usage errors, 3 when it cannot listen.
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <unordered_map>

#include "bench/tools/bench_socket.h"

using namespace warren::bench;

namespace {

// Bytes read but not yet written back; while non-empty the connection waits for EPOLLOUT
// and stops reading (backpressure: a slow reader cannot grow this past one read).
struct Conn {
  warren::UniqueFd fd;
  std::string pending;
};

void closeConn(int ep, std::unordered_map<int, Conn>& conns, int fd) {
  ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
  conns.erase(fd);
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = parseEchoOptions({argv + 1, argv + argc});
  if (!opts) {
    std::cerr << opts.error().message() << "\n";
    return 2;
  }
  (void)raiseFdLimit();
  warren::UniqueFd lfd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(lfd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(opts->port));
  ::inet_pton(AF_INET, opts->bind.c_str(), &a.sin_addr);
  if (::bind(lfd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::listen(lfd.get(), 4096) < 0) {
    std::cerr << "warren-bench-echo: listen on " << opts->bind << ":" << opts->port << ": "
              << std::strerror(errno) << "\n";
    return 3;
  }
  warren::UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd.get();
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, lfd.get(), &ev);
  std::cout << "listening on " << opts->bind << ":" << opts->port << std::endl;
  std::unordered_map<int, Conn> conns;
  char buf[64 * 1024];
  epoll_event events[256];
  for (;;) {
    int n = ::epoll_wait(ep.get(), events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::cerr << "warren-bench-echo: epoll_wait: " << std::strerror(errno) << "\n";
      return 3;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd.get()) {
        for (;;) {
          int c = ::accept4(lfd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;  // EAGAIN, or EMFILE: the next readiness retries
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c, &cev);
          conns[c].fd.reset(c);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& conn = it->second;
      if (conn.pending.empty()) {
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          closeConn(ep.get(), conns, fd);
          continue;
        }
        if (r < 0) continue;
        conn.pending.assign(buf, static_cast<size_t>(r));
      }
      ssize_t w = ::send(fd, conn.pending.data(), conn.pending.size(), MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        closeConn(ep.get(), conns, fd);
        continue;
      }
      if (w > 0) conn.pending.erase(0, static_cast<size_t>(w));
      epoll_event mev{};
      mev.events = conn.pending.empty() ? EPOLLIN : EPOLLOUT;
      mev.data.fd = fd;
      ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, fd, &mev);
    }
  }
}
