// TcpRelayServer: a plain TCP proxy on worker loops — per worker an SO_REUSEPORT listener,
// multishot accept, an upstream connect from the socket factory, and a StreamRelay per
// connection, owned by the worker that accepted it. The engine of warren-tcp-relay and the
// harness of the relay tests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/error.h"
#include "common/net/socket_address.h"
#include "common/net/socket_factory.h"
#include "common/relay/socket_relay.h"
#include "common/relay/stream_relay.h"
#include "common/uring/worker_threads.h"

namespace warren::relay {

struct TcpRelayConfig {
  net::SocketAddress listen;
  net::SocketAddress upstream;
  unsigned workers = 0;  // 0 = one per core
  uring::LoopOptions loop;
  net::SocketOptions sockets;  // netns, mark... for both listeners and upstream sockets
  SocketRelayEngine engine = SocketRelayEngine::kCopy;  // --splice: kSplice
};

struct TcpRelayTotals {
  uint64_t accepted = 0;
  uint64_t relayed = 0;      // upstream connected, relay started
  uint64_t failures = 0;     // upstream socket/connect failed
  uint64_t active = 0;       // relays running now
  uint64_t bytes = 0;        // both directions, relays that ended
  size_t peak_buffered = 0;  // highest per-direction buffered bytes seen (ended or live)
  size_t peak_memory = 0;    // highest per-relay buffer memory seen (ended or live)
};

class TcpRelayServer {
 public:
  static Result<std::unique_ptr<TcpRelayServer>> start(const TcpRelayConfig& config);
  ~TcpRelayServer();  // stops the workers, closing every connection

  const net::SocketAddress& address() const { return bound_; }
  // Thread-safe. Live relays are sampled on their own workers (waits up to `wait`).
  TcpRelayTotals totals(std::chrono::milliseconds wait = std::chrono::milliseconds(1000));
  void stop();

  struct Worker;

 private:
  TcpRelayServer() = default;
  TcpRelayConfig config_;
  net::SocketAddress bound_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<uring::WorkerThreads> threads_;
};

}  // namespace warren::relay
