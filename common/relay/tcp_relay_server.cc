#include "common/relay/tcp_relay_server.h"

#include <cstring>
#include <future>
#include <unordered_map>

#include "common/log.h"
#include "common/net/socket_info.h"
#include "common/relay/socket_relay.h"

namespace warren::relay {

// Back-off after an accept error; long enough for fds to be released, short for clients.
constexpr std::chrono::milliseconds kAcceptRetry{100};

// Everything here is touched only on the worker's own thread, except the atomics.
struct TcpRelayServer::Worker {
  const TcpRelayConfig* config = nullptr;
  uring::EventLoop* loop = nullptr;
  int listener = -1;
  std::unordered_map<Relay*, std::shared_ptr<Relay>> relays;
  std::atomic<uint64_t> accepted{0}, relayed{0}, failures{0}, bytes{0};
  std::atomic<size_t> peak_buffered{0}, peak_memory{0};

  static void raise(std::atomic<size_t>& peak, size_t v) {
    size_t cur = peak.load();
    while (v > cur && !peak.compare_exchange_weak(cur, v)) {
    }
  }
  void record(const RelayStats& st) {
    raise(peak_buffered, std::max(st.a_to_b.peak_buffered, st.b_to_a.peak_buffered));
    raise(peak_memory, st.memory_bytes);
  }

  void armAccept();
  void onAccepted(int fd);
  void startRelay(UniqueFd client, UniqueFd upstream);
};

// An accept error (EMFILE, ENFILE, ENOMEM) ends the multishot accept: back off and re-arm,
// rather than stop accepting for good or spin on the error.
void TcpRelayServer::Worker::armAccept() {
  loop->acceptMultishot(listener, [this](int res) {
    if (res >= 0) {
      onAccepted(res);
      return;
    }
    if (res == -ECANCELED || listener < 0) return;
    ++failures;
    spdlog::warn("accept: {}; retrying in {} ms", std::strerror(-res), kAcceptRetry.count());
    loop->timeout(kAcceptRetry, [this](int) {
      if (listener >= 0) armAccept();
    });
  });
}

void TcpRelayServer::Worker::onAccepted(int fd) {
  ++accepted;
  UniqueFd client(fd);
  if (auto s = net::SocketFactory::configureAccepted(fd, config->sockets); !s) {
    spdlog::warn("accepted socket: {}", s.error().message());
    return;
  }
  net::SocketOptions up_opts = config->sockets;
  up_opts.reuse_port = false;
  auto up_fd = net::SocketFactory::tcpSocket(config->upstream.family(), up_opts);
  if (!up_fd) {
    ++failures;
    spdlog::warn("upstream socket: {}", up_fd.error().message());
    return;
  }
  UniqueFd upstream = std::move(*up_fd);
  int ufd = upstream.get();
  // Owned by the (move-only) connect callback until the upstream answers; a failure, or the
  // loop going away first, closes both. The loop copies the address.
  net::Sockaddr address = config->upstream.toSockaddr();
  loop->connect(
      ufd, address.get(), address.length,
      [this, client = std::move(client), upstream = std::move(upstream)](int res) mutable {
        if (res < 0) {
          ++failures;
          spdlog::debug("connect {}: {}", config->upstream.toString(), std::strerror(-res));
          return;
        }
        startRelay(std::move(client), std::move(upstream));
      });
}

void TcpRelayServer::Worker::startRelay(UniqueFd client, UniqueFd upstream) {
  ++relayed;
  // The relay's own key, for its done callback to release it from the table (posted:
  // `done` runs inside the relay). Events never come from start().
  auto slot = std::make_shared<Relay*>(nullptr);
  auto r = makeSocketRelay(*loop, std::move(client), std::move(upstream), config->engine,
                           [this, slot](const RelayStats& st, const std::optional<Error>& err) {
                             bytes += st.a_to_b.bytes + st.b_to_a.bytes;
                             record(st);
                             if (err) spdlog::debug("relay ended: {}", err->message());
                             loop->post([this, key = *slot] { relays.erase(key); });
                           });
  *slot = r.get();
  relays.emplace(r.get(), r);
  r->start();
}

Result<std::unique_ptr<TcpRelayServer>> TcpRelayServer::start(const TcpRelayConfig& config) {
  std::unique_ptr<TcpRelayServer> server(new TcpRelayServer());
  server->config_ = config;
  // One SO_REUSEPORT listener per worker: the kernel spreads connections over the workers.
  unsigned n = uring::WorkerThreads::count(config.workers);
  auto listeners = net::SocketFactory::listenTcpGroup(config.listen, config.sockets, n);
  if (!listeners) return fail(listeners.error().wrap("relay listener"));
  auto bound = net::localAddress(listeners->front().get());
  if (!bound) return fail(bound.error());
  server->bound_ = *bound;
  for (unsigned i = 0; i < n; ++i) {
    server->workers_.push_back(std::make_unique<Worker>());
    server->workers_.back()->config = &server->config_;
  }
  auto fds = std::make_shared<std::vector<UniqueFd>>(std::move(*listeners));
  auto* self = server.get();
  auto threads = uring::WorkerThreads::start(
      n, config.loop,
      [self, fds](uring::EventLoop& loop, unsigned i) -> Status {
        Worker& w = *self->workers_[i];
        w.loop = &loop;
        w.listener = (*fds)[i].release();
        spdlog::debug("relay worker {}: {}", i, loop.describe());
        w.armAccept();
        return ok();
      },
      [self](uring::EventLoop& loop, unsigned i) {
        Worker& w = *self->workers_[i];
        w.relays.clear();  // closes every connection of this worker
        if (w.listener >= 0) loop.close(w.listener);
        w.listener = -1;
      });
  if (!threads) return fail(threads.error());
  server->threads_ = std::move(*threads);
  return server;
}

TcpRelayTotals TcpRelayServer::totals(std::chrono::milliseconds wait) {
  TcpRelayTotals t;
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    if (threads_) {
      // Sample live relays on their own thread.
      auto done = std::make_shared<std::promise<uint64_t>>();
      auto fut = done->get_future();
      threads_->loop(static_cast<unsigned>(i)).post([&w, done] {
        for (auto& [key, r] : w.relays) w.record(r->stats());
        done->set_value(w.relays.size());
      });
      if (fut.wait_for(wait) == std::future_status::ready) t.active += fut.get();
    }
    t.accepted += w.accepted;
    t.relayed += w.relayed;
    t.failures += w.failures;
    t.bytes += w.bytes;
    t.peak_buffered = std::max(t.peak_buffered, w.peak_buffered.load());
    t.peak_memory = std::max(t.peak_memory, w.peak_memory.load());
  }
  return t;
}

void TcpRelayServer::stop() {
  if (threads_) threads_->stop();
  threads_.reset();
}

TcpRelayServer::~TcpRelayServer() { stop(); }

}  // namespace warren::relay
