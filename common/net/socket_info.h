// What a socket knows about its addresses: local, peer, and the original destination of a
// connection our cgroup/connect4|6 eBPF programs redirected (cgroup/getsockopt answers
// SO_ORIGINAL_DST the way netfilter would).
#pragma once

#include "common/error.h"
#include "common/net/socket_address.h"

namespace warren::net {

Result<SocketAddress> localAddress(int fd);
Result<SocketAddress> peerAddress(int fd);

// getsockopt(SOL_IP, SO_ORIGINAL_DST) for IPv4 sockets, (SOL_IPV6, IP6T_SO_ORIGINAL_DST) for
// IPv6, trusting only Warren's cgroup/getsockopt eBPF answer: it sets optlen to exactly the
// sockaddr it wrote, which netfilter never does, so an answer conntrack gave (a host with
// connection tracking active remembers plain loopback connections too, and would name the
// socket's own address or 127.0.0.1:15001) is refused, as is any answer naming the socket's
// own address. Refusals, and a socket that was not redirected (ENOENT: no conntrack entry,
// ENOPROTOOPT: conntrack not loaded and no eBPF program answered), fail with kNotFound
// saying why.
Result<SocketAddress> originalDestination(int fd);

}  // namespace warren::net
