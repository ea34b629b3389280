// warren-cni: a chained CNI 1.0 plugin. It runs after the plugins that wire the pod
// (bridge + host-local), hands the pod's netns to the node agent over <runDir>/cni.sock and,
// for enrolled pods, returns only once ztunnel has acknowledged the pod. prevResult is passed
// through unchanged. Exit 0 on success; on failure the CNI error JSON on stdout and exit 1.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "agent/cni/cni_invocation.h"
#include "common/unique_fd.h"

namespace {

using warren::cni::CniFailure;


// Agent answers within its own ZDS ack timeout; this bounds the plugin regardless.
constexpr int kAgentTimeoutMs = 30000;

std::expected<std::string, CniFailure> askAgent(const std::string& run_dir, const std::string& request) {
  const std::string path = run_dir + "/cni.sock";
  warren::UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return std::unexpected(CniFailure{warren::cni::kCniErrInvalidConfig, "runDir too long", path});
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return std::unexpected(CniFailure{warren::cni::kCniErrTryAgainLater, "warren-agent is not reachable",
                                      path + ": " + std::strerror(errno)});
  std::string line = request + "\n";
  if (::send(s.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return std::unexpected(CniFailure{warren::cni::kCniErrTryAgainLater, "cannot send to warren-agent", path});
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    pollfd p{s.get(), POLLIN, 0};
    if (::poll(&p, 1, kAgentTimeoutMs) <= 0)
      return std::unexpected(CniFailure{warren::cni::kCniErrTryAgainLater, "warren-agent did not answer", path});
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

}  // namespace

int main() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos && kv.starts_with("CNI_")) env[kv.substr(0, eq)] = kv.substr(eq + 1);
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
  auto reply = askAgent(inv->run_dir, warren::cni::agentRequestJson(*inv));
  if (!reply) {
    // DEL must succeed when the agent is gone: there is nothing of ours left to clean up.
    if (inv->command == warren::cni::CniCommand::kDel) return 0;
    return failWith(reply.error(), inv->cni_version);
  }
  auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return failWith({warren::cni::kCniErrTryAgainLater, "bad answer from warren-agent", *reply}, inv->cni_version);
  if (auto err = j.find("error"); err != j.end() && err->is_string() && !err->get<std::string>().empty()) {
    if (inv->command == warren::cni::CniCommand::kDel) return 0;
    return failWith({warren::cni::kCniErrTryAgainLater, "warren-agent refused the pod", err->get<std::string>()},
                    inv->cni_version);
  }
  if (inv->command != warren::cni::CniCommand::kDel) std::cout << warren::cni::cniResultJson(*inv) << std::endl;
  return 0;
}
