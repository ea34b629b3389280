#include "ztunnel/control/source_routing.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/net/route_netlink.h"
#include "common/net/socket_factory.h"
#include "common/netns.h"

namespace warren::ztunnel {
namespace {

constexpr const char* kFwmarkAccept = "/proc/sys/net/ipv4/tcp_fwmark_accept";

// /proc/sys/net resolves to the netns of the thread that opens it: call inside the guard.
Result<int> readSysctl(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(WARREN_SYS_ERROR(std::string("open ") + path));
  char buf[16] = {};
  ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0) return fail(WARREN_SYS_ERROR(std::string("read ") + path));
  return std::atoi(buf);
}

Status writeSysctl(const char* path, int value) {
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) return fail(WARREN_SYS_ERROR(std::string("open ") + path));
  std::string text = std::to_string(value) + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return fail(WARREN_SYS_ERROR(std::string("write ") + path));
  return ok();
}

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
  auto before = readSysctl(kFwmarkAccept);
  if (!before) return fail(before.error().wrap("source routing"));
  out.fwmark_accept_before = *before;
  if (*before != 1) WARREN_TRY(writeSysctl(kFwmarkAccept, 1));
  if (auto s = installFamily(*nl, AF_INET); !s) {
    (void)removeFamily(*nl, AF_INET);
    if (*before != 1) (void)writeSysctl(kFwmarkAccept, *before);
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
    if (auto s = writeSysctl(kFwmarkAccept, installed.fwmark_accept_before); !s && result)
      result = s;
  }
  return result;
}

}  // namespace warren::ztunnel
