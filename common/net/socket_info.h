// What a socket knows about its addresses: local, peer, and the original destination of a
// redirected connection (iptables REDIRECT, or our cgroup/getsockopt eBPF program answering
// SO_ORIGINAL_DST the same way).
#pragma once

#include "common/error.h"
#include "common/net/socket_address.h"

namespace warren::net {

Result<SocketAddress> localAddress(int fd);
Result<SocketAddress> peerAddress(int fd);

// getsockopt(SOL_IP, SO_ORIGINAL_DST) for IPv4 sockets, (SOL_IPV6, IP6T_SO_ORIGINAL_DST) for
// IPv6. A socket that was not redirected fails with kNotFound (ENOENT: no conntrack entry,
// ENOPROTOOPT: conntrack not loaded and no eBPF program answered), naming both causes.
Result<SocketAddress> originalDestination(int fd);

}  // namespace warren::net
