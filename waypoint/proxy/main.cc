// warren-waypoint: the L7 proxy a warren-waypoint Gateway deploys; see waypoint/README.md.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/log.h"
#include "waypoint/proxy/waypoint_daemon.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(warren::waypoint::waypointUsage().c_str(), stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("warren-waypoint %s\n", WARREN_BUILD_VERSION);
      return 0;
    }
  }
  auto options = warren::waypoint::parseWaypointOptions(args);
  if (!options) {
    std::fprintf(stderr, "warren-waypoint: %s\n%s", options.error().message().c_str(),
                 warren::waypoint::waypointUsage().c_str());
    return 2;
  }
  if (!warren::log::parseLevel(options->log_level)) {
    std::fprintf(stderr, "warren-waypoint: bad --log-level %s\n", options->log_level.c_str());
    return 2;
  }
  warren::log::init("waypoint", options->log_level);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  warren::waypoint::WaypointDaemon daemon(*options);
  if (auto s = daemon.start(); !s) {
    spdlog::critical("cannot start: {}", s.error().message());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: draining for up to {} s", sig, options->drain_seconds);
  daemon.drain(std::chrono::steady_clock::now() + std::chrono::seconds(options->drain_seconds));
  daemon.stop();
  return 0;
}
