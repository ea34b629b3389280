// Source-preserving routing inside an enrolled pod's netns (issue 12 item 7): inbound, ztunnel
// connects to the app from the client's address (IP_TRANSPARENT, mark kZtunnelSourceMark), as
// Istio's in-pod mode does, so the app, its logs and NetworkPolicy see the source pod, not the
// pod itself. The app's answers to that foreign address must come back to ztunnel's socket
// instead of leaving through eth0; without iptables this is three settings per family:
//   - net.ipv4.tcp_fwmark_accept = 1: the app's accepted socket takes the mark of the SYN, so
//     everything it sends on that connection carries kZtunnelSourceMark (warren-cni sets it at
//     the pod's ADD: a DaemonSet container's /proc/sys is read-only; set here when it can be);
//   - `ip rule pref 0 fwmark 0x53a lookup 1337`, with the `local` rule moved from pref 0 to 1
//     so this one is consulted first;
//   - `ip route add local default dev lo table 1337`: such packets are delivered locally, to
//     ztunnel's transparent socket. The SYN itself routes there too, so it arrives on "lo" and
//     the sk_lookup program leaves it alone (it steers only what arrives from outside).
// Sockets without the mark (the app's own connections, ztunnel's 0x539 ones) are unaffected.
// Installing is idempotent (a restarted ztunnel installs again); removal (the pod leaves the
// mesh) restores the `local` rule, drops the rest and puts the sysctl back if it set it.
#pragma once

#include "common/error.h"

namespace warren::ztunnel {

inline constexpr uint32_t kSourceRoutingTable = 1337;

struct SourceRouting {
  bool v4 = false;  // connections to the app may be made from an IPv4 client's address
  bool v6 = false;
  int fwmark_accept_before = -1;  // tcp_fwmark_accept as found (-1: not read)
};

// Installs the routing in the netns behind `netns_fd` for both families; a family the netns
// cannot do (IPv6 disabled) stays false. An error only when IPv4 could not be done either.
Result<SourceRouting> installSourceRouting(int netns_fd);
// Undoes what `installed` says was done; best effort (the netns may be going away).
Status removeSourceRouting(int netns_fd, const SourceRouting& installed);

}  // namespace warren::ztunnel
