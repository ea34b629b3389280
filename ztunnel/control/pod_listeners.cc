#include "ztunnel/control/pod_listeners.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "bpf/loader/inbound_registration.h"
#include "common/net/socket_factory.h"
#include "common/netns.h"

namespace warren::ztunnel {
namespace {

Result<UniqueFd> listenIn(int netns_fd, uint16_t port) {
  net::SocketOptions options;
  options.netns_fd = netns_fd;
  options.reuse_port = true;
  auto fd = net::SocketFactory::listenTcp(net::SocketAddress{net::IpAddress(), port}, options);
  if (!fd)
    return fail(fd.error().wrap(fmt::format("listening on 0.0.0.0:{} in the pod netns", port)));
  return fd;
}

// Readies the pod netns for capture: "lo" up (15001 is reached as 127.0.0.1:15001, and CNI
// without the loopback plugin leaves it down), and net.ipv4.tcp_migrate_req=1: when a
// draining ztunnel closes its listeners, connections still in their accept queues move to the
// new ztunnel's SO_REUSEPORT listeners instead of being reset (rolling restart refuses
// nothing; best effort, kernels before 5.14 only lose that guarantee).
Status preparePodNetns(int netns_fd) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return fail(guard.error().wrap("entering the pod netns"));
  if (auto s = bringLoopbackUp(); !s) return fail(s.error().wrap("in the pod netns"));
  std::ofstream f("/proc/sys/net/ipv4/tcp_migrate_req");
  f << "1\n";
  if (!f.flush()) spdlog::debug("tcp_migrate_req not set in the pod netns");
  return ok();
}

}  // namespace

Result<PodListeners> bindPodListeners(int netns_fd, const PodListenerConfig& config) {
  WARREN_TRY(preparePodNetns(netns_fd));
  PodListeners l;
  auto out = listenIn(netns_fd, kOutboundPort);
  if (!out) return fail(out.error());
  l.outbound = std::move(*out);
  auto in = listenIn(netns_fd, kInboundPlainPort);
  if (!in) return fail(in.error());
  l.inbound_plain = std::move(*in);
  auto hbone = listenIn(netns_fd, kHbonePort);
  if (!hbone) return fail(hbone.error());
  l.hbone = std::move(*hbone);

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
  if (auto s = redirect::registerInboundListener(*pin_dir, l.inbound_plain.get(), addresses); !s) {
    return fail(s.error().wrap("registering 15006 in " + *pin_dir));
  }
  l.registered_addresses = std::move(addresses);
  return l;
}

}  // namespace warren::ztunnel
