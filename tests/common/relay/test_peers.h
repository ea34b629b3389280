// Test peers for the relay tests: blocking loopback clients and upstream servers on their
// own threads, every wait bounded.
#pragma once

#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"

namespace warren::relay::testing {

inline void setBlocking(int fd, std::chrono::seconds io_timeout) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(io_timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// A blocking client socket connected to `to` (reads/writes time out after `io_timeout`).
inline UniqueFd connectTo(const net::SocketAddress& to,
                          std::chrono::seconds io_timeout = std::chrono::seconds(30),
                          const net::SocketOptions& options = {}) {
  auto fd = net::SocketFactory::tcpSocket(to.family(), options);
  if (!fd) return UniqueFd();
  setBlocking(fd->get(), io_timeout);
  if (::connect(fd->get(), to.toSockaddr().get(), to.toSockaddr().length) != 0) return UniqueFd();
  return std::move(*fd);
}

inline bool writeAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

inline std::string readToEof(int fd, size_t limit = 1 << 20) {
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

inline bool readExactly(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Deterministic payload (xorshift64), the same for the sender and any checker.
class Payload {
 public:
  explicit Payload(uint64_t seed) : state_(seed | 1) {}
  void fill(char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (left_ == 0) {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        word_ = state_;
        left_ = 8;
      }
      p[i] = static_cast<char>(word_ & 0xff);
      word_ >>= 8;
      --left_;
    }
  }

 private:
  uint64_t state_, word_ = 0;
  int left_ = 0;
};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void update(const char* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string hex() {
    unsigned char md[32];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < len; ++i) {
      s += digits[md[i] >> 4];
      s += digits[md[i] & 15];
    }
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Sends `bytes` of Payload(seed) to fd, returning the sha256 of what was sent ("" on failure).
inline std::string sendPayload(int fd, uint64_t seed, size_t bytes) {
  Payload p(seed);
  Sha256 h;
  std::vector<char> buf(64 * 1024);
  while (bytes > 0) {
    size_t n = std::min(bytes, buf.size());
    p.fill(buf.data(), n);
    h.update(buf.data(), n);
    if (!writeAll(fd, buf.data(), n)) return "";
    bytes -= n;
  }
  return h.hex();
}

// Reads to EOF; returns (sha256, byte count).
inline std::pair<std::string, size_t> hashToEof(int fd) {
  Sha256 h;
  size_t total = 0;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
    if (r <= 0) break;
    h.update(buf.data(), static_cast<size_t>(r));
    total += static_cast<size_t>(r);
  }
  return {h.hex(), total};
}

// An upstream that accepts connections on its own thread and hands each (blocking) to
// `serve`, one thread per connection; everything joins in the destructor.
class ThreadedServer {
 public:
  explicit ThreadedServer(std::function<void(int fd)> serve, const net::SocketOptions& options = {})
      : serve_(std::move(serve)) {
    auto l = net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(0), options);
    if (!l) return;
    listener_ = std::move(*l);
    address_ = *net::localAddress(listener_.get());
    acceptor_ = std::thread([this] {
      while (!stop_) {
        pollfd p{listener_.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) != 1) continue;
        int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        setBlocking(fd, std::chrono::seconds(60));
        workers_.emplace_back([this, fd] {
          serve_(fd);
          ::close(fd);
        });
      }
    });
  }
  ~ThreadedServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : workers_) t.join();
  }
  const net::SocketAddress& address() const { return address_; }

 private:
  std::function<void(int)> serve_;
  UniqueFd listener_;
  net::SocketAddress address_;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// An echo upstream on its own EventLoop thread, for many concurrent connections.
class LoopEchoServer {
 public:
  LoopEchoServer() {
    std::atomic<bool> ready{false};
    thread_ = std::thread([this, &ready] {
      uring::LoopOptions o;
      o.backend = uring::Backend::kEpoll;
      auto loop = uring::EventLoop::create(o);
      auto l = net::SocketFactory::listenTcp(net::SocketAddress::loopbackV4(0), {});
      if (!loop || !l) {
        ready = true;
        return;
      }
      // The loop outlives the thread: ~LoopEchoServer's stop() may still be writing the
      // wake-up eventfd when run() returns here, so only the destructor, after join(), frees it.
      owned_ = std::move(*loop);
      uring::EventLoop* lp = owned_.get();
      loop_ = lp;
      address_ = *net::localAddress(l->get());
      int listener = l->release();
      lp->acceptMultishot(listener, [lp](int fd) {
        if (fd < 0) return;
        lp->recvMultishot(fd, [lp, fd](int res, std::span<const char> d) {
          if (res <= 0) {
            lp->close(fd);
            return;
          }
          lp->send(fd, uring::Buffer(d.begin(), d.end()), 0, [](int, uring::Buffer) {});
        });
      });
      ready = true;
      lp->run();
      lp->close(listener);
    });
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LoopEchoServer() {
    if (auto* lp = loop_.load()) lp->stop();
    thread_.join();
  }
  const net::SocketAddress& address() const { return address_; }

 private:
  std::unique_ptr<uring::EventLoop> owned_;
  std::thread thread_;
  std::atomic<uring::EventLoop*> loop_{nullptr};
  net::SocketAddress address_;
};

}  // namespace warren::relay::testing
