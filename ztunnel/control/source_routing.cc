#include "ztunnel/control/source_routing.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <string>

#include "common/net/route_netlink.h"
#include "common/net/socket_factory.h"
#include "common/netns.h"

namespace warren::ztunnel {
namespace {

net::RoutingRule localRule(int family, uint32_t priority) {
  return net::RoutingRule{family, priority, 255 /* RT_TABLE_LOCAL */, std::nullopt};
}

net::RoutingRule markRule(int family) {
  return net::RoutingRule{family, 0, kSourceRoutingTable, net::kZtunnelSourceMark};
}

Status installFamily(net::RouteNetlink& nl, int family) {
  WARREN_TRY(nl.addRoute(net::LocalDefaultRoute{family, kSourceRoutingTable}));
  // The `local` rule moves to pref 1 before its pref 0 copy goes: never a moment without it.
  WARREN_TRY(nl.addRule(localRule(family, 1)));
  WARREN_TRY(nl.deleteRule(localRule(family, 0)));
  return nl.addRule(markRule(family));
}

Status removeFamily(net::RouteNetlink& nl, int family) {
  WARREN_TRY(nl.deleteRule(markRule(family)));
  WARREN_TRY(nl.addRule(localRule(family, 0)));
  WARREN_TRY(nl.deleteRule(localRule(family, 1)));
  return nl.deleteRoute(net::LocalDefaultRoute{family, kSourceRoutingTable});
}

}  // namespace

Result<SourceRouting> installSourceRouting(int netns_fd) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return fail(guard.error().wrap("source routing"));
  auto nl = net::RouteNetlink::open();
  if (!nl) return fail(nl.error().wrap("source routing"));
  SourceRouting out;
  auto before = readNetSysctl(kTcpFwmarkAcceptSysctl);
  if (!before) return fail(before.error().wrap("source routing"));
  out.fwmark_accept_before = *before;
  if (*before != 1) {
    // warren-cni sets it at the pod's ADD; a pod older than Warren's CNI plugin has it off, and
    // a container's /proc/sys is read-only.
    if (auto w = writeNetSysctl(kTcpFwmarkAcceptSysctl, 1); !w)
      return fail(w.error().wrap(
          "source routing: tcp_fwmark_accept is off in the pod netns and cannot be set here (a "
          "pod created before warren-cni was installed: restart it)"));
  }
  if (auto s = installFamily(*nl, AF_INET); !s) {
    (void)removeFamily(*nl, AF_INET);
    if (*before != 1) (void)writeNetSysctl(kTcpFwmarkAcceptSysctl, *before);
    return fail(s.error().wrap("source routing (IPv4)"));
  }
  out.v4 = true;
  if (auto s = installFamily(*nl, AF_INET6); !s) {
    (void)removeFamily(*nl, AF_INET6);
    spdlog::debug("source routing: IPv6 not set up ({}): IPv6 clients appear as the pod",
                  s.error().message());
  } else {
    out.v6 = true;
  }
  return out;
}

Status removeSourceRouting(int netns_fd, const SourceRouting& installed) {
  if (!installed.v4 && !installed.v6) return ok();
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return fail(guard.error().wrap("source routing"));
  auto nl = net::RouteNetlink::open();
  if (!nl) return fail(nl.error().wrap("source routing"));
  Status result = ok();
  if (installed.v4) {
    if (auto s = removeFamily(*nl, AF_INET); !s) result = s;
  }
  if (installed.v6) {
    if (auto s = removeFamily(*nl, AF_INET6); !s && result) result = s;
  }
  if (installed.fwmark_accept_before >= 0 && installed.fwmark_accept_before != 1) {
    if (auto s = writeNetSysctl(kTcpFwmarkAcceptSysctl, installed.fwmark_accept_before);
        !s && result)
      result = s;
  }
  return result;
}

}  // namespace warren::ztunnel
