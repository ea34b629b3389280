// EchoServer: the echo's listeners and connections. One thread polls every listener (an echo
// serves several ports: the mesh conformance Services expose 80 and 8080) and accepts; each
// connection gets a thread that tells h2c (the HTTP/2 preface, common/sniff) from HTTP/1.x by
// the first bytes and runs an Http2EchoSession or an Http1EchoSession over blocking reads and
// writes. Bounded:
// at most `max_connections` at once (more are closed at accept), an idle connection is closed
// after `idle_timeout`. Destroying the server stops accepting, shuts every connection down and
// joins every thread, so tests can start and stop it in-process on port 0.
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/net/socket_address.h"
#include "common/unique_fd.h"
#include "lab/echo/echo_handler.h"

namespace warren::echo {

struct EchoServerOptions {
  std::vector<net::SocketAddress> listen;  // port 0 picks one (see addresses())
  EchoContext context;
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  size_t max_connections = 1024;
};

class EchoServer {
 public:
  static Result<std::unique_ptr<EchoServer>> start(EchoServerOptions options);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // The bound addresses, in the order given.
  const std::vector<net::SocketAddress>& addresses() const { return addresses_; }
  // Requests answered so far, on every connection.
  uint64_t requestsServed() const { return requests_.load(); }

 private:
  struct Connection {
    UniqueFd fd;  // closed when the record goes, after its thread was joined
    std::thread thread;
    std::atomic<bool> done{false};
  };

  explicit EchoServer(EchoServerOptions options) : options_(std::move(options)) {}
  void acceptLoop();
  void serve(Connection& c, std::string peer);
  void serveHttp1(Connection& c, const std::string& peer, std::string_view first);
  void serveHttp2(Connection& c, const std::string& peer, std::string_view first);
  void reapFinished();
  // Sleeps `d`, cut short by stop(). False when stopping.
  bool pause(std::chrono::milliseconds d);

  EchoServerOptions options_;
  std::vector<UniqueFd> listeners_;
  std::vector<net::SocketAddress> addresses_;
  UniqueFd wake_;  // eventfd: stop() wakes the accept loop
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
  std::mutex mutex_;
  std::list<Connection> connections_;  // guarded by mutex_
  std::thread acceptor_;
};

}  // namespace warren::echo
