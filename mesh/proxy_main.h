// The process shell every mesh proxy binary shares (warren-ztunnel, warren-waypoint): --help and
// --version, options parsed by the binary's own parser, the log level, signals blocked before
// any thread starts so only sigwait receives them, start, then on SIGTERM/SIGINT a drain of at
// most `drain_seconds` and stop. Exit codes: 0 after a drain, 1 when start fails, 2 on bad flags.
#pragma once

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/accesslog/buffered_sink.h"
#include "common/log.h"
#include "common/process_memory.h"

namespace warren::mesh {

// Options: has `log_level` and `drain_seconds` (and may have `access_log_flush`, milliseconds:
// access log lines batched, accesslog/buffered_sink.h; 0 = a write per line). Daemon: constructed
// from Options, with `start()` returning an expected<void, Error>, `drain(deadline)` and `stop()`.
template <typename Daemon, typename Options, typename Parse>
int runProxyMain(const char* binary, const char* log_name, int argc, char** argv,
                 const std::string& usage, Parse parse) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(usage.c_str(), stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("%s %s\n", binary, WARREN_BUILD_VERSION);
      return 0;
    }
  }
  auto options = parse(args);
  if (!options) {
    std::fprintf(stderr, "%s: %s\n%s", binary, options.error().message().c_str(), usage.c_str());
    return 2;
  }
  const Options& o = *options;
  if (!log::parseLevel(o.log_level)) {
    std::fprintf(stderr, "%s: bad --log-level %s\n", binary, o.log_level.c_str());
    return 2;
  }
  log::init(log_name, o.log_level);
  spdlog::info("{}", tuneAllocator());  // before any thread: every arena starts under it

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  PeriodicTrim trim(kTrimInterval);  // stops last, after the daemon
  // Batched access log lines for a binary with the option (the waypoint); after the daemon's
  // threads, the rest is written.
  std::optional<accesslog::BufferedAccessLog> access_log;
  if constexpr (requires { o.access_log_flush; }) {
    if (o.access_log_flush.count() > 0) access_log.emplace(o.access_log_flush);
  }

  Daemon daemon(o);
  if (auto s = daemon.start(); !s) {
    spdlog::critical("cannot start: {}", s.error().message());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: draining for up to {} s", sig, o.drain_seconds);
  daemon.drain(std::chrono::steady_clock::now() + std::chrono::seconds(o.drain_seconds));
  daemon.stop();
  return 0;
}

}  // namespace warren::mesh
