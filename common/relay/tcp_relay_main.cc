// warren-tcp-relay: a plain TCP proxy built from the worker loops, the socket factory and the
// copy engine; the proof (and benchmark harness) of the I/O core.
//   warren-tcp-relay --listen ADDR:PORT --upstream ADDR:PORT [--workers N]
//                    [--backend uring|epoll] [--mark N] [--netns PATH] [--log-level L]
// Prints "listening on ADDR:PORT" on stdout once every worker accepts (port 0 picks one).
// SIGINT/SIGTERM stop it; it prints per-run totals on exit.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

#include "common/log.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "common/relay/stream_relay.h"
#include "common/uring/worker_threads.h"

namespace {

using namespace warren;

struct Config {
  net::SocketAddress listen;
  net::SocketAddress upstream;
  unsigned workers = 0;
  uring::LoopOptions loop;
  net::SocketOptions sockets;
  std::string log_level = "info";
};

std::atomic<uint64_t> g_connections{0};
std::atomic<uint64_t> g_bytes{0};
std::atomic<uint64_t> g_failures{0};

const char* kUsage =
    "usage: warren-tcp-relay --listen ADDR:PORT --upstream ADDR:PORT [--workers N]\n"
    "                        [--backend uring|epoll] [--mark N] [--netns PATH]\n"
    "                        [--log-level LEVEL]\n";

Result<Config> parseArgs(int argc, char** argv) {
  Config c;
  auto backend = uring::backendFromEnvironment();
  if (!backend) return fail(backend.error());
  c.loop.backend = *backend;
  bool have_listen = false, have_upstream = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return fail(Error::invalid("help"));
    if (i + 1 >= argc) return fail(Error::invalid("flag " + flag + " needs a value"));
    std::string value = argv[++i];
    if (flag == "--listen" || flag == "--upstream") {
      auto a = net::SocketAddress::parse(value);
      if (!a) return fail(a.error().wrap(flag));
      (flag == "--listen" ? c.listen : c.upstream) = *a;
      (flag == "--listen" ? have_listen : have_upstream) = true;
    } else if (flag == "--workers") {
      char* end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (*end || n < 0 || n > 256) return fail(Error::invalid("--workers: want 0..256"));
      c.workers = static_cast<unsigned>(n);
    } else if (flag == "--backend") {
      auto b = uring::parseBackend(value);
      if (!b) return fail(b.error());
      c.loop.backend = *b;
    } else if (flag == "--mark") {
      char* end = nullptr;
      unsigned long m = std::strtoul(value.c_str(), &end, 0);
      if (*end || m > 0xffffffffUL) return fail(Error::invalid("--mark: not a 32-bit number"));
      c.sockets.mark = static_cast<uint32_t>(m);
    } else if (flag == "--netns") {
      c.sockets.netns_path = value;
    } else if (flag == "--log-level") {
      c.log_level = value;
    } else {
      return fail(Error::invalid("unknown flag " + flag));
    }
  }
  if (!have_listen || !have_upstream)
    return fail(Error::invalid("--listen and --upstream are required"));
  return c;
}

// Per worker: its listener, and the relays it owns (keyed by address for removal when done).
struct Worker {
  uring::EventLoop* loop = nullptr;
  int listener = -1;
  std::unordered_map<relay::StreamRelay*, std::shared_ptr<relay::StreamRelay>> relays;
};

void onAccepted(Worker& w, const Config& cfg, int fd) {
  auto client = std::make_unique<relay::SocketStream>(*w.loop, UniqueFd(fd));
  if (auto s = net::SocketFactory::configureAccepted(fd, cfg.sockets); !s) {
    spdlog::warn("accepted socket: {}", s.error().message());
    return;
  }
  net::SocketOptions up_opts = cfg.sockets;
  up_opts.reuse_port = false;
  auto up_fd = net::SocketFactory::tcpSocket(cfg.upstream.family(), up_opts);
  if (!up_fd) {
    ++g_failures;
    spdlog::warn("upstream socket: {}", up_fd.error().message());
    return;
  }
  auto upstream = std::make_unique<relay::SocketStream>(*w.loop, std::move(*up_fd));
  int ufd = upstream->fd();
  // Held by the connect callback until the upstream answers.
  struct Pending {
    std::unique_ptr<relay::SocketStream> client, upstream;
  };
  auto pending = std::make_shared<Pending>(Pending{std::move(client), std::move(upstream)});
  w.loop->connect(ufd, cfg.upstream.sockaddrPtr(), cfg.upstream.length(),
                  [&w, pending, cfg_up = cfg.upstream](int res) {
                    if (res < 0) {
                      ++g_failures;
                      spdlog::debug("connect {}: {}", cfg_up.toString(), std::strerror(-res));
                      return;  // both sockets close with `pending`
                    }
                    ++g_connections;
                    // The relay's own key, for the done callback to release it from the table
                    // (posted: `done` runs inside the relay). Events never come from start().
                    auto slot = std::make_shared<relay::StreamRelay*>(nullptr);
                    auto r = relay::StreamRelay::create(
                        std::move(pending->client), std::move(pending->upstream),
                        [&w, slot](const relay::RelayStats& st, const std::optional<Error>& err) {
                          g_bytes += st.a_to_b.bytes + st.b_to_a.bytes;
                          if (err) spdlog::debug("relay ended: {}", err->message());
                          w.loop->post([&w, key = *slot] { w.relays.erase(key); });
                        });
                    *slot = r.get();
                    w.relays.emplace(r.get(), r);
                    r->start();
                  });
}

}  // namespace

int main(int argc, char** argv) {
  auto cfg = parseArgs(argc, argv);
  if (!cfg) {
    if (cfg.error().context() != "help")
      std::fprintf(stderr, "warren-tcp-relay: %s\n", cfg.error().message().c_str());
    std::fputs(kUsage, stderr);
    return cfg.error().context() == "help" ? 0 : 2;
  }
  log::init("tcp-relay", cfg->log_level);

  // Workers must not take SIGINT/SIGTERM: the main thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // The first listener fixes the port (when 0 was asked), the rest join it via SO_REUSEPORT.
  net::SocketOptions listen_opts = cfg->sockets;
  listen_opts.reuse_port = true;
  auto first = net::SocketFactory::listenTcp(cfg->listen, listen_opts);
  if (!first) {
    std::fprintf(stderr, "warren-tcp-relay: %s\n", first.error().message().c_str());
    return 1;
  }
  auto bound = net::localAddress(first->get());
  if (!bound) {
    std::fprintf(stderr, "warren-tcp-relay: %s\n", bound.error().message().c_str());
    return 1;
  }
  std::vector<Worker> workers(cfg->workers ? cfg->workers
                                           : std::max(1u, std::thread::hardware_concurrency()));
  int first_fd = first->release();
  auto pool = uring::WorkerThreads::start(
      static_cast<unsigned>(workers.size()), cfg->loop,
      [&](uring::EventLoop& loop, unsigned i) -> Status {
        Worker& w = workers[i];
        w.loop = &loop;
        if (i == 0) {
          w.listener = first_fd;
        } else {
          auto fd = net::SocketFactory::listenTcp(*bound, listen_opts);
          if (!fd) return fail(fd.error());
          w.listener = fd->release();
        }
        spdlog::info("worker {}: {}", i, loop.describe());
        loop.acceptMultishot(w.listener, [&w, &c = *cfg](int res) {
          if (res >= 0) onAccepted(w, c, res);
          else if (res != -ECANCELED) spdlog::warn("accept: {}", std::strerror(-res));
        });
        return ok();
      },
      [&](uring::EventLoop& loop, unsigned i) {
        Worker& w = workers[i];
        w.relays.clear();
        loop.close(w.listener);
      });
  if (!pool) {
    std::fprintf(stderr, "warren-tcp-relay: %s\n", pool.error().message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", bound->toString().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  (*pool)->stop();
  std::printf("connections %llu bytes %llu failures %llu\n",
              static_cast<unsigned long long>(g_connections.load()),
              static_cast<unsigned long long>(g_bytes.load()),
              static_cast<unsigned long long>(g_failures.load()));
  return 0;
}
