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
  // Offer a buffer larger than any answer: Warren's cgroup/getsockopt program sets optlen to
  // exactly the sockaddr it wrote (bpf/progs/getsockopt.bpf.c), while netfilter's own answer
  // (conntrack, when the host tracks connections: after `podman run`, on any kube-proxy node)
  // copies a sockaddr and leaves optlen as the caller gave it. That is how the eBPF record is
  // told apart, positively, from whatever conntrack remembers about a socket that was never
  // redirected (it would name the socket's own address, or 127.0.0.1:15001).
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  const bool v6 = local->isV6();
  int rc = v6 ? ::getsockopt(fd, SOL_IPV6, kIp6tSoOriginalDst, &ss, &len)
              : ::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
  if (rc != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOPROTOOPT)
      return fail(Error(ErrorCode::kNotFound,
                        "no original destination for socket at " + local->toString() +
                            " (not a redirected connection, or no eBPF answer)",
                        err));
    return fail(Error::system(err, "getsockopt(SO_ORIGINAL_DST)"));
  }
  const socklen_t ebpf_len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (len != ebpf_len) {
    auto said = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(ss));
    return fail(Error(ErrorCode::kNotFound, "no original destination for socket at " +
                                                local->toString() + ": the answer (" +
                                                (said ? said->toString() : "?") +
                                                ") came from conntrack, not the eBPF record"));
  }
  auto orig = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!orig) return fail(orig.error().wrap("original destination"));
  // Never a redirect to ourselves: the eBPF record names where the app was going, which is
  // never the capture socket it ended up at.
  if (*orig == *local) {
    return fail(Error(ErrorCode::kNotFound, "no original destination for socket at " +
                                                local->toString() +
                                                ": the answer names the "
                                                "socket's own address"));
  }
  return orig;
}

}  // namespace warren::net
