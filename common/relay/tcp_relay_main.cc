// warren-tcp-relay: a plain TCP proxy built from the worker loops, the socket factory and the
// copy engine; the proof (and benchmark harness) of the I/O core.
//   warren-tcp-relay --listen ADDR:PORT --upstream ADDR:PORT [--workers N]
//                    [--backend uring|epoll] [--recv-buffers N] [--mark N] [--netns PATH]
//                    [--log-level L]
// Prints "listening on ADDR:PORT" on stdout once every worker accepts (port 0 picks one).
// SIGINT/SIGTERM stop it; it prints per-run totals on exit.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/log.h"
#include "common/net/socket_factory.h"
#include "common/relay/tcp_relay_server.h"

namespace {

using namespace warren;

struct Config {
  net::SocketAddress listen;
  net::SocketAddress upstream;
  unsigned workers = 0;
  uring::LoopOptions loop;
  net::SocketOptions sockets;
  relay::SocketRelayEngine engine = relay::SocketRelayEngine::kCopy;
  std::string log_level = "info";
};

const char* kUsage =
    "usage: warren-tcp-relay --listen ADDR:PORT --upstream ADDR:PORT [--workers N]\n"
    "                        [--backend uring|epoll] [--recv-buffers N] [--mark N]\n"
    "                        [--netns PATH] [--engine copy|splice]\n"
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
    } else if (flag == "--recv-buffers") {
      char* end = nullptr;
      unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (*end || n == 0 || n > 32768 || (n & (n - 1)) != 0)
        return fail(Error::invalid("--recv-buffers: want a power of two in 1..32768"));
      c.loop.recv_buffer_count = static_cast<unsigned>(n);
    } else if (flag == "--netns") {
      c.sockets.netns_path = value;
    } else if (flag == "--engine") {
      if (value != "copy" && value != "splice")
        return fail(Error::invalid("--engine: want copy or splice, got '" + value + "'"));
      c.engine =
          value == "splice" ? relay::SocketRelayEngine::kSplice : relay::SocketRelayEngine::kCopy;
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

  relay::TcpRelayConfig rc;
  rc.listen = cfg->listen;
  rc.upstream = cfg->upstream;
  rc.workers = cfg->workers;
  rc.loop = cfg->loop;
  rc.sockets = cfg->sockets;
  rc.engine = cfg->engine;
  auto server = relay::TcpRelayServer::start(rc);
  if (!server) {
    std::fprintf(stderr, "warren-tcp-relay: %s\n", server.error().message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", (*server)->address().toString().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  auto t = (*server)->totals();
  (*server)->stop();
  const auto& engines = relay::socketRelayCounters();
  std::printf("connections %llu bytes %llu failures %llu peak_buffered %zu splice %llu copy %llu\n",
              static_cast<unsigned long long>(t.relayed), static_cast<unsigned long long>(t.bytes),
              static_cast<unsigned long long>(t.failures), t.peak_buffered,
              static_cast<unsigned long long>(engines.splice.load()),
              static_cast<unsigned long long>(engines.copy.load()));
  return 0;
}
