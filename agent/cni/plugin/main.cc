// warren-cni: a chained CNI 1.0 plugin. It runs after the plugins that wire the pod
// (bridge + host-local), hands the pod's netns to the node agent over <runDir>/cni.sock and,
// for enrolled pods, returns only once ztunnel has acknowledged the pod. prevResult is passed
// through unchanged. Exit 0 on success; on failure the CNI error JSON on stdout and exit 1.
// With a subcommand (install, uninstall, status) it is its own installer: see cni_install.h.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <variant>
#include <vector>

#include "agent/cni/cni_install.h"
#include "agent/cni/cni_invocation.h"
#include "common/netns.h"
#include "common/unique_fd.h"

namespace {

using warren::cni::CniFailure;

// Agent answers within its own ZDS ack timeout; this bounds the plugin regardless.
constexpr int kAgentTimeoutMs = 30000;
// 100 attempts, 100 ms apart: an agent that is still starting gets 10 s.
constexpr int kConnectAttempts = 100;

// Sets tcp_fwmark_accept in the pod's netns, which ztunnel's source routing needs (the app then
// sees the client's address; ztunnel/control/source_routing.h): here /proc/sys is writable, in
// ztunnel's DaemonSet container it is not. Every pod gets it, as whether it joins the mesh is
// the agent's answer below; it changes nothing where no socket sets a mark. Best effort: a pod
// without it is served with its own address as the source, never refused.
void enableFwmarkAccept(const std::string& netns) {
  auto guard = warren::NetnsGuard::enter(netns);
  if (!guard) {
    std::fprintf(stderr, "warren-cni: tcp_fwmark_accept not set: %s\n",
                 guard.error().message().c_str());
    return;
  }
  if (auto s = warren::writeNetSysctl(warren::kTcpFwmarkAcceptSysctl, 1); !s)
    std::fprintf(stderr, "warren-cni: tcp_fwmark_accept not set: %s\n",
                 s.error().message().c_str());
}

std::expected<std::string, CniFailure> askAgent(const std::string& run_dir,
                                                const std::string& request, int connect_attempts) {
  const std::string path = run_dir + "/cni.sock";
  warren::UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return std::unexpected(CniFailure{warren::cni::kCniErrInvalidConfig, "runDir too long", path});
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  // The agent may be starting (it loads eBPF before it serves cni.sock): retry briefly.
  int rc = -1;
  for (int attempt = 0; attempt < connect_attempts; ++attempt) {
    rc = ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    if (rc == 0 || (errno != ENOENT && errno != ECONNREFUSED)) break;
    ::usleep(100 * 1000);
  }
  if (rc != 0)
    return std::unexpected(CniFailure{warren::cni::kCniErrTryAgainLater,
                                      "warren-agent is not reachable",
                                      path + ": " + std::strerror(errno)});
  std::string line = request + "\n";
  if (::send(s.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return std::unexpected(
        CniFailure{warren::cni::kCniErrTryAgainLater, "cannot send to warren-agent", path});
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    pollfd p{s.get(), POLLIN, 0};
    if (::poll(&p, 1, kAgentTimeoutMs) <= 0)
      return std::unexpected(
          CniFailure{warren::cni::kCniErrTryAgainLater, "warren-agent did not answer", path});
    ssize_t n = ::recv(s.get(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

int failWith(const CniFailure& f, const std::string& version) {
  std::cout << warren::cni::cniErrorJson(f, version) << std::endl;
  return 1;
}

std::atomic<bool> g_stop{false};

// install / uninstall / status: the CNI install step of the warren-agent DaemonSet.
int runTool(const std::vector<std::string>& args) {
  using namespace warren::cni;
  auto cmd = parseCniToolArgs(args);
  if (!cmd) {
    std::fprintf(stderr, "warren-cni: %s\n%s", cmd.error().message().c_str(),
                 cniToolUsage().c_str());
    return 2;
  }
  if (auto* help = std::get_if<CniToolHelp>(&*cmd)) {
    std::fputs(help->text.c_str(), stdout);
    return 0;
  }
  auto& c = std::get<CniToolCommand>(*cmd);
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) c.options.self_binary.assign(self, static_cast<size_t>(n));
  CniInstaller installer(c.options);
  if (c.tool == CniTool::kStatus) {
    if (auto s = installer.status(); !s) {
      std::fprintf(stderr, "warren-cni: not installed: %s\n", s.error().message().c_str());
      return 1;
    }
    std::printf("warren-cni: installed in %s, chained in %s\n", c.options.bin_dir.c_str(),
                c.options.conf_dir.c_str());
    return 0;
  }
  if (c.tool == CniTool::kUninstall) {
    if (auto s = installer.uninstall(); !s) {
      std::fprintf(stderr, "warren-cni: uninstall: %s\n", s.error().message().c_str());
      return 1;
    }
    std::printf("warren-cni: removed from %s and %s\n", c.options.conf_dir.c_str(),
                c.options.bin_dir.c_str());
    return 0;
  }
  if (auto s = installer.install(); !s) {
    std::fprintf(stderr, "warren-cni: install: %s\n", s.error().message().c_str());
    return 1;
  }
  std::printf("warren-cni: installed %s/warren-cni; %s\n", c.options.bin_dir.c_str(),
              installer.lastAction().c_str());
  std::fflush(stdout);
  if (!c.options.watch) return 0;
  // SIGTERM ends the watch and leaves warren-cni chained: the DaemonSet is being updated (the
  // next pod re-checks) or deleted (the node clean-up runs `warren-cni uninstall`).
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop.store(true); };
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  if (auto s = installer.watch(g_stop); !s) {
    std::fprintf(stderr, "warren-cni: watch: %s\n", s.error().message().c_str());
    return 1;
  }
  std::printf("warren-cni: stopped watching %s (left installed)\n", c.options.conf_dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::printf("warren-cni %s\n", WARREN_BUILD_VERSION);
    return 0;
  }
  if (argc > 1) return runTool(std::vector<std::string>(argv + 1, argv + argc));
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos && kv.starts_with("CNI_"))
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::string config;
  if (env["CNI_COMMAND"] != "VERSION")
    config.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto inv = warren::cni::parseCniInvocation(env, config);
  if (!inv) return failWith(inv.error(), "");
  if (inv->command == warren::cni::CniCommand::kVersion) {
    std::cout << warren::cni::cniVersionJson() << std::endl;
    return 0;
  }
  if (inv->command == warren::cni::CniCommand::kAdd && !inv->netns.empty())
    enableFwmarkAccept(inv->netns);
  // DEL does not wait for a starting agent: with no agent there is nothing to undo.
  const bool del = inv->command == warren::cni::CniCommand::kDel;
  auto reply =
      askAgent(inv->run_dir, warren::cni::agentRequestJson(*inv), del ? 1 : kConnectAttempts);
  if (!reply) {
    // DEL must succeed when the agent is gone: there is nothing of ours left to clean up.
    if (inv->command == warren::cni::CniCommand::kDel) return 0;
    return failWith(reply.error(), inv->cni_version);
  }
  auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return failWith({warren::cni::kCniErrTryAgainLater, "bad answer from warren-agent", *reply},
                    inv->cni_version);
  if (auto err = j.find("error");
      err != j.end() && err->is_string() && !err->get<std::string>().empty()) {
    if (inv->command == warren::cni::CniCommand::kDel) return 0;
    return failWith({warren::cni::kCniErrTryAgainLater, "warren-agent refused the pod",
                     err->get<std::string>()},
                    inv->cni_version);
  }
  if (inv->command != warren::cni::CniCommand::kDel)
    std::cout << warren::cni::cniResultJson(*inv) << std::endl;
  return 0;
}
