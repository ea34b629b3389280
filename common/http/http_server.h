// A small HTTP/1.1 server for admin, metrics and readiness endpoints: one epoll thread, bounded
// requests (the common/http1 codec), keep-alive and pipelining answered one request at a time,
// 400/404/405/413/414/431/501 on bad input. Not the data path:
// handlers run on the server thread one at a time, so they must be quick and must take their
// own locks (or read immutable snapshots) to touch shared state.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/http/listen_address.h"
#include "common/http/request_reader.h"
#include "common/http/router.h"
#include "common/unique_fd.h"

namespace warren::http {

struct HttpServerOptions {
  ListenAddress address;
  RequestLimits limits;
  // Admin clients are a handful of humans and scrapers; more than this is a leak or an attack.
  size_t max_connections = 64;
  // Closes a connection idle (or stuck mid-request) this long.
  std::chrono::milliseconds idle_timeout{30'000};
  // Mode of a unix socket file: the owner (root) only. The admin API changes log levels and
  // shows the node's whole state; warrenctl runs as root, as the daemons do.
  mode_t unix_mode = 0600;
  std::string name = "http";  // for log lines: "admin", "metrics", ...
  // SO_REUSEPORT on a TCP listener: a component restarted beside its old instance (ztunnel's
  // rolling restart) binds the same port while the old one drains.
  bool reuse_port = false;

  // Defaults everywhere but the address (designated initializers would warn on the rest).
  static HttpServerOptions at(ListenAddress address, std::string name = "http") {
    HttpServerOptions o;
    o.address = std::move(address);
    o.name = std::move(name);
    return o;
  }
};

class HttpServer {
 public:
  // Binds and listens (errors here are returned, not logged), then serves on a new thread.
  // A stale unix socket file at the path is replaced; any other file there is an error.
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, Router router);

  // Stops the thread, closes every connection and removes the unix socket file.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address (with the real port when 0 was asked for).
  const ListenAddress& address() const { return bound_; }

  uint64_t requestsServed() const { return requests_served_.load(std::memory_order_relaxed); }

 private:
  HttpServer(HttpServerOptions options, Router router, UniqueFd listen_fd, UniqueFd epoll_fd,
             UniqueFd wake_fd, ListenAddress bound);
  void run();

  HttpServerOptions options_;
  Router router_;
  UniqueFd listen_fd_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;  // eventfd: written by the destructor to stop run()
  ListenAddress bound_;
  std::atomic<uint64_t> requests_served_{0};
  std::thread thread_;
};

}  // namespace warren::http
