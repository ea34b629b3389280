#include "common/net/socket_factory.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include "common/log.h"
#include "common/net/socket_info.h"
#include "common/netns.h"

namespace warren::net {

namespace {

Status setInt(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0)
    return fail(WARREN_SYS_ERROR(std::string("setsockopt(") + what + ")"));
  return ok();
}

// IP_TRANSPARENT needs CAP_NET_ADMIN and IP_FREEBIND may be refused by some stacks; a proxy
// that does not need them must still work, so failures are logged, not returned.
void bestEffort(int fd, int level, int name, const char* what) {
  int one = 1;
  if (::setsockopt(fd, level, name, &one, sizeof(one)) != 0)
    spdlog::debug("socket factory: {} refused: {}", what, std::strerror(errno));
}

Status applyConnectionOptions(int fd, const SocketOptions& o) {
  if (o.nodelay) WARREN_TRY(setInt(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"));
  if (o.keepalive) {
    WARREN_TRY(setInt(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"));
    WARREN_TRY(setInt(fd, IPPROTO_TCP, TCP_KEEPIDLE, kKeepaliveIdleSeconds, "TCP_KEEPIDLE"));
    WARREN_TRY(setInt(fd, IPPROTO_TCP, TCP_KEEPINTVL, kKeepaliveIntervalSeconds, "TCP_KEEPINTVL"));
    WARREN_TRY(setInt(fd, IPPROTO_TCP, TCP_KEEPCNT, kKeepaliveProbes, "TCP_KEEPCNT"));
  }
  return ok();
}

Result<UniqueFd> createIn(int family, const SocketOptions& o) {
  if (family != AF_INET && family != AF_INET6)
    return fail(Error::invalid("socket family " + std::to_string(family) + " is not IPv4/IPv6"));
  std::optional<NetnsGuard> guard;
  if (o.netns_path) {
    auto g = NetnsGuard::enter(*o.netns_path);
    if (!g) return fail(g.error().wrap("socket factory"));
    guard.emplace(std::move(*g));
  } else if (o.netns_fd >= 0) {
    auto g = NetnsGuard::enter(o.netns_fd);
    if (!g) return fail(g.error().wrap("socket factory"));
    guard.emplace(std::move(*g));
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd) return fail(WARREN_SYS_ERROR("socket(TCP)"));
  // The netns guard ends here (before options): a socket keeps the netns it was created in.
  guard.reset();
  if (o.mark) {
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &*o.mark, sizeof(*o.mark)) != 0)
      return fail(WARREN_SYS_ERROR("setsockopt(SO_MARK) (needs CAP_NET_ADMIN)"));
  }
  if (o.transparent) {
    bestEffort(fd.get(), family == AF_INET6 ? SOL_IPV6 : SOL_IP,
               family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, "IP_TRANSPARENT");
  }
  if (o.freebind) {
    bestEffort(fd.get(), family == AF_INET6 ? SOL_IPV6 : SOL_IP,
               family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, "IP_FREEBIND");
  }
  return fd;
}

}  // namespace

Result<UniqueFd> SocketFactory::tcpSocket(int family, const SocketOptions& options) {
  auto fd = createIn(family, options);
  if (!fd) return fail(fd.error());
  WARREN_TRY(applyConnectionOptions(fd->get(), options));
  if (options.source) {
    bool v6 = family == AF_INET6;
    WARREN_TRY(setInt(fd->get(), v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, 1,
                      "IP_TRANSPARENT (needs CAP_NET_ADMIN)"));
    auto from = SocketAddress{*options.source, 0}.toSockaddr();
    if (::bind(fd->get(), from.get(), from.length) != 0)
      return fail(WARREN_SYS_ERROR("bind to source " + options.source->toString()));
  }
  return fd;
}

Result<UniqueFd> SocketFactory::listenTcp(const SocketAddress& bind, const SocketOptions& o) {
  auto fd = createIn(bind.family(), o);
  if (!fd) return fail(fd.error());
  if (o.reuse_addr) WARREN_TRY(setInt(fd->get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"));
  if (o.reuse_port) WARREN_TRY(setInt(fd->get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"));
  // Accepted sockets inherit TCP_NODELAY and keepalive settings from the listener on Linux.
  WARREN_TRY(applyConnectionOptions(fd->get(), o));
  auto sa = bind.toSockaddr();
  if (::bind(fd->get(), sa.get(), sa.length) != 0)
    return fail(WARREN_SYS_ERROR("bind " + bind.toString()));
  if (::listen(fd->get(), o.backlog) != 0)
    return fail(WARREN_SYS_ERROR("listen " + bind.toString()));
  return fd;
}

Result<std::vector<UniqueFd>> SocketFactory::listenTcpGroup(const SocketAddress& bind,
                                                            const SocketOptions& options,
                                                            unsigned count) {
  SocketOptions o = options;
  o.reuse_port = true;
  std::vector<UniqueFd> group;
  SocketAddress at = bind;
  for (unsigned i = 0; i < count; ++i) {
    auto fd = listenTcp(at, o);
    if (!fd) {
      return fail(fd.error().wrap(fmt::format("listener {} of {}", i + 1, count)));
    }
    if (i == 0 && at.port == 0) {
      auto bound = localAddress(fd->get());
      if (!bound) return fail(bound.error());
      at = *bound;
    }
    group.push_back(std::move(*fd));
  }
  return group;
}

Status SocketFactory::configureAccepted(int fd, const SocketOptions& options) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return fail(WARREN_SYS_ERROR("fcntl(F_GETFL)"));
  if (!(flags & O_NONBLOCK) && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return fail(WARREN_SYS_ERROR("fcntl(O_NONBLOCK)"));
  return applyConnectionOptions(fd, options);
}

}  // namespace warren::net
