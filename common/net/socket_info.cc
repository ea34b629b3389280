#include "common/net/socket_info.h"

#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace warren::net {

namespace {
// From <linux/netfilter_ipv6/ip6_tables.h>, which does not compile as C++ on its own.
constexpr int kIp6tSoOriginalDst = 80;
}  // namespace

Result<SocketAddress> localAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return fail(WARREN_SYS_ERROR("getsockname"));
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Result<SocketAddress> peerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return fail(WARREN_SYS_ERROR("getpeername"));
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Result<SocketAddress> originalDestination(int fd) {
  auto local = localAddress(fd);
  if (!local) return fail(local.error().wrap("original destination"));
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = local->isV6() ? ::getsockopt(fd, SOL_IPV6, kIp6tSoOriginalDst, &ss, &len)
                         : ::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
  if (rc != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOPROTOOPT)
      return fail(Error(ErrorCode::kNotFound,
                        "no original destination for socket at " + local->toString() +
                            " (not a redirected connection, or no conntrack/eBPF answer)",
                        err));
    return fail(Error::system(err, "getsockopt(SO_ORIGINAL_DST)"));
  }
  return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace warren::net
