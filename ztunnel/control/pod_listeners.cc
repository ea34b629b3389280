#include "ztunnel/control/pod_listeners.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "bpf/loader/inbound_registration.h"
#include "common/net/socket_factory.h"
#include "common/netns.h"

namespace warren::ztunnel {
namespace {

// Readies the pod netns for capture: "lo" up (15001 is reached as 127.0.0.1:15001, and CNI
// without the loopback plugin leaves it down), and net.ipv4.tcp_migrate_req=1: when a
// draining ztunnel closes its listeners, connections still in their accept queues move to the
// new ztunnel's SO_REUSEPORT listeners instead of being reset (rolling restart refuses
// nothing; best effort, kernels before 5.14 only lose that guarantee).
Status preparePodNetns(int netns_fd) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return fail(guard.error().wrap("entering the pod netns"));
  if (auto s = bringLoopbackUp(); !s) return fail(s.error().wrap("in the pod netns"));
  if (auto s = writeNetSysctl("/proc/sys/net/ipv4/tcp_migrate_req", 1); !s)
    spdlog::debug("tcp_migrate_req not set in the pod netns: {}", s.error().message());
  return ok();
}

}  // namespace

const char* listenerPortName(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::kOutbound:
      return "15001";
    case ListenerKind::kInboundPlain:
      return "15006";
    case ListenerKind::kHbone:
      return "15008";
  }
  return "?";
}

Result<std::vector<ListenerSet>> listenPodPorts(const net::IpAddress& ip,
                                                const std::array<uint16_t, 3>& ports,
                                                const net::SocketOptions& options, unsigned count) {
  std::vector<ListenerSet> sets(count);
  for (size_t k = 0; k < ports.size(); ++k) {
    net::SocketAddress at{ip, ports[k]};
    // Its errors name the address and port ("listener 1 of 2: bind 0.0.0.0:15006: ...").
    auto group = net::SocketFactory::listenTcpGroup(at, options, count);
    if (!group) return fail(group.error());
    for (unsigned i = 0; i < count; ++i) sets[i][k] = std::move((*group)[i]);
  }
  return sets;
}

Result<PodListeners> bindPodListeners(int netns_fd, const PodListenerConfig& config) {
  WARREN_TRY(preparePodNetns(netns_fd));
  net::SocketOptions options;
  options.netns_fd = netns_fd;
  auto sets = listenPodPorts(net::IpAddress(), {kOutboundPort, kInboundPlainPort, kHbonePort},
                             options, std::max(1u, config.sockets_per_port));
  if (!sets) return fail(sets.error().wrap("in the pod netns"));
  PodListeners l;
  l.sets = std::move(*sets);

  if (config.run_dir.empty()) return l;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(config.run_dir) / redirect::kPinDirFile, ec)) {
    spdlog::debug("no {}/{}: eBPF inbound capture not in use, 15006 not registered", config.run_dir,
                  redirect::kPinDirFile);
    return l;
  }
  auto pin_dir = redirect::readPinDirFile(config.run_dir);
  if (!pin_dir) return fail(pin_dir.error().wrap("registering 15006 for sk_lookup"));
  std::vector<net::IpAddress> addresses;
  {
    auto guard = NetnsGuard::enter(netns_fd);
    if (!guard) return fail(guard.error().wrap("entering the pod netns to list its addresses"));
    auto local = redirect::localAddresses();
    if (!local) return fail(local.error().wrap("listing the pod's addresses"));
    addresses = std::move(*local);
  }
  if (addresses.empty()) {
    return fail(Error(ErrorCode::kUnavailable,
                      "the pod netns has no non-loopback address to register 15006 under"));
  }
  if (auto s = redirect::registerInboundListener(
          *pin_dir, l.sets[0][static_cast<size_t>(ListenerKind::kInboundPlain)].get(), addresses);
      !s) {
    return fail(s.error().wrap("registering 15006 in " + *pin_dir));
  }
  l.registered_addresses = std::move(addresses);
  return l;
}

}  // namespace warren::ztunnel
