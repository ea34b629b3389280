// warren-echo: the lab's HTTP echo workload, behaving as the Gateway API conformance
// `echo-basic` server (echo_handler.h): it answers each request with what it received (path,
// host, method, proto, headers) and where it runs (pod, namespace, service from the
// environment), so a test can tell which backend answered and what a proxy changed. HTTP/1.1,
// h2c (prior knowledge) and the conformance GrpcEcho gRPC service share every port.
//
//   warren-echo [--port P ...] [--bind ADDR] [--idle-timeout S] [--log-level L]
//
// Several --port flags listen on several ports (default: $HTTP_PORT, else 3000, as echo-basic).
// Exit codes: 0 stopped by SIGTERM/SIGINT, 2 usage, 3 cannot listen.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "common/log.h"
#include "common/net/ip_address.h"
#include "lab/echo/echo_server.h"

int main(int argc, char** argv) {
  using namespace warren;
  CLI::App app{
      "warren-echo: HTTP/1.1, h2c and gRPC echo server (Gateway API echo-basic compatible)"};
  std::vector<int> ports;
  std::string bind = "0.0.0.0";
  int idle_timeout_s = 60;
  std::string level = "info";
  app.add_option("--port", ports, "listen on this port (repeatable; default $HTTP_PORT or 3000)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--bind", bind, "address to listen on");
  app.add_option("--idle-timeout", idle_timeout_s, "close a connection idle this long (s)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--log-level", level, "trace|debug|info|warn|error");
  CLI11_PARSE(app, argc, argv);
  log::init("warren-echo", level);

  if (ports.empty()) {
    const char* env = std::getenv("HTTP_PORT");
    std::string text = env && *env ? env : "3000";
    char* end = nullptr;
    long p = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
      std::fprintf(stderr, "warren-echo: HTTP_PORT '%s' is not a port (1..65535)\n", text.c_str());
      return 2;
    }
    ports.push_back(static_cast<int>(p));
  }
  auto ip = net::IpAddress::parse(bind);
  if (!ip) {
    std::fprintf(stderr, "warren-echo: --bind: %s\n", ip.error().message().c_str());
    return 2;
  }
  echo::EchoServerOptions options;
  for (int p : ports) options.listen.push_back({*ip, static_cast<uint16_t>(p)});
  options.context = echo::EchoContext::fromEnvironment();
  options.idle_timeout = std::chrono::seconds(idle_timeout_s);

  // Threads started below inherit the mask: only sigwait() sees these.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto server = echo::EchoServer::start(options);
  if (!server) {
    std::fprintf(stderr, "warren-echo: %s\n", server.error().message().c_str());
    return 3;
  }
  spdlog::info("pod={} namespace={} service={}", options.context.pod, options.context.namespace_,
               options.context.service);
  int sig = 0;
  sigwait(&stop, &sig);
  spdlog::info("signal {}: stopping after {} requests", sig, (*server)->requestsServed());
  server->reset();
  return 0;
}
