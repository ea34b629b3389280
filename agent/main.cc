// warren-agent: the Warren node agent. Parses flags, starts the NodeAgent, runs until
// SIGTERM/SIGINT; `warren-agent uninstall` removes what the agent installed on the node.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/cli/agent_options.h"
#include "agent/cli/uninstall.h"
#include "agent/node/node_agent.h"
#include "common/log.h"

namespace {

int runAgent(const warren::agent::AgentOptions& options) {
  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  warren::agent::NodeAgent agent(options);
  if (auto s = agent.start(); !s) {
    spdlog::critical("{}", s.error().message());
    return 1;
  }
  spdlog::info("warren-agent ready");
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  agent.stop();
  spdlog::info("warren-agent stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::printf("warren-agent %s\n", WARREN_BUILD_VERSION);
    return 0;
  }
  auto cmd = warren::agent::parseAgentArgs(args);
  if (!cmd) {
    std::fprintf(stderr, "warren-agent: %s\n%s", cmd.error().message().c_str(),
                 warren::agent::agentUsage().c_str());
    return 2;
  }
  if (auto* help = std::get_if<warren::agent::HelpRequested>(&*cmd)) {
    std::fputs(help->text.c_str(), stdout);
    return 0;
  }
  if (auto* u = std::get_if<warren::agent::UninstallOptions>(&*cmd)) {
    if (auto l = warren::log::parseLevel(u->log_level); !l) {
      std::fprintf(stderr, "warren-agent: %s\n", l.error().message().c_str());
      return 2;
    }
    warren::log::init("warren-agent", u->log_level);
    if (auto s = warren::agent::runUninstall(*u); !s) {
      spdlog::error("uninstall: {}", s.error().message());
      return 1;
    }
    return 0;
  }
  const auto& options = std::get<warren::agent::AgentOptions>(*cmd);
  if (auto l = warren::log::parseLevel(options.log_level); !l) {
    std::fprintf(stderr, "warren-agent: %s\n", l.error().message().c_str());
    return 2;
  }
  warren::log::init("warren-agent", options.log_level);
  return runAgent(options);
}
