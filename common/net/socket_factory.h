// The one socket factory (STYLE habit 8): every TCP socket Warren opens comes from here, so the
// netns, the ztunnel mark, SO_REUSEPORT, keepalive and non-blocking/cloexec are applied in one
// place. Nothing else calls socket().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/net/socket_address.h"
#include "common/unique_fd.h"

namespace warren::net {

// The mark ztunnel puts on its own sockets so the eBPF redirect skips them (BRIEF contract).
inline constexpr uint32_t kZtunnelMark = 0x539;
// The mark of ztunnel's inbound sockets that connect to the app from the client's address
// (IP_TRANSPARENT); the pod netns routes what carries it back to ztunnel
// (ztunnel/control/source_routing.h). The eBPF redirect skips it too.
inline constexpr uint32_t kZtunnelSourceMark = 0x53a;

// TCP keepalive as ztunnel's SocketConfig (INTEROP §3): 180 s idle, 180 s interval, 9 probes.
inline constexpr int kKeepaliveIdleSeconds = 180;
inline constexpr int kKeepaliveIntervalSeconds = 180;
inline constexpr int kKeepaliveProbes = 9;

struct SocketOptions {
  // Create the socket inside this netns (a path like /run/netns/x or an open netns fd). The
  // calling thread enters it for the socket() call only; the socket keeps the netns.
  std::optional<std::string> netns_path;
  int netns_fd = -1;
  std::optional<uint32_t> mark;  // SO_MARK; needs CAP_NET_ADMIN, a hard error when it fails
  bool reuse_port = false;       // SO_REUSEPORT: one listener per worker, and restart overlap
  bool reuse_addr = true;        // SO_REUSEADDR on listeners (TIME_WAIT does not block a rebind)
  bool transparent = false;      // IP_TRANSPARENT, best effort (logged at debug when refused)
  // tcpSocket only: bind to this address (port 0) before the connect. A foreign address (the
  // client's, for ztunnel's connection to the app) takes IP_TRANSPARENT, which is then set and
  // required here, not best effort.
  std::optional<IpAddress> source;
  bool freebind = false;  // IP_FREEBIND, best effort
  bool nodelay = true;    // TCP_NODELAY: a proxy must not add Nagle delay
  bool keepalive = true;  // with the kKeepalive* values above
  int backlog = 1024;
};

class SocketFactory {
 public:
  // A listening TCP socket bound to `bind` (port 0 picks one: read it with localAddress).
  static Result<UniqueFd> listenTcp(const SocketAddress& bind, const SocketOptions& options);
  // `count` listening sockets on one address, each with SO_REUSEPORT (forced on), so they form
  // one reuseport group: the kernel hands each new connection to one of them (one per worker,
  // each accepting only its own), and sockets another process binds there later join the group
  // (a restarted proxy beside the old one). Port 0: the first socket picks it, the rest follow.
  // Any failure closes what was bound.
  static Result<std::vector<UniqueFd>> listenTcpGroup(const SocketAddress& bind,
                                                      const SocketOptions& options, unsigned count);
  // An unconnected TCP socket of `family` (AF_INET/AF_INET6), options applied, ready for an
  // asynchronous connect by the event loop.
  static Result<UniqueFd> tcpSocket(int family, const SocketOptions& options);
  // Applies per-connection options (nodelay, keepalive, non-blocking) to an accepted socket.
  static Status configureAccepted(int fd, const SocketOptions& options);
};

}  // namespace warren::net
