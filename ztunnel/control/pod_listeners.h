// The per-pod listeners ztunnel binds inside an enrolled pod's netns after a ZDS add
// (INTEROP §13, DESIGN "Ports"): 15001 outbound capture, 15006 inbound plaintext capture,
// 15008 HBONE. Each port gets one listening socket per data-path worker, all with SO_REUSEPORT,
// so the sockets of a port form one reuseport group: the kernel hands each connection to one
// worker's socket (every worker accepts its own share and owns what it accepts), and a
// restarting ztunnel's sockets join the same group beside the old ones. The 15006 socket of the
// first set is registered in the agent's sk_lookup map (bpf/loader/inbound_registration.h)
// under the pod's addresses when the agent left its pin dir in <run-dir>/bpf_pin_dir; the
// kernel's reuseport selection runs after sk_lookup picked it, so steered connections spread
// over the whole group too. Closing the sockets (destroying PodListeners) unbinds them and the
// kernel drops the map entries.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/net/ip_address.h"
#include "common/net/socket_factory.h"
#include "common/unique_fd.h"

namespace warren::ztunnel {

inline constexpr uint16_t kOutboundPort = 15001;
inline constexpr uint16_t kInboundPlainPort = 15006;
inline constexpr uint16_t kHbonePort = 15008;

// One worker's sockets, indexed by ListenerKind.
enum class ListenerKind { kOutbound = 0, kInboundPlain = 1, kHbone = 2 };
using ListenerSet = std::array<UniqueFd, 3>;
const char* listenerPortName(ListenerKind kind);  // "15001", "15006", "15008"

struct PodListeners {
  // One set per worker; sets[i][k] for every i share a port (one reuseport group per port).
  std::vector<ListenerSet> sets;
  std::vector<net::IpAddress> registered_addresses;  // sk_lookup keys for sets[0] 15006
};

struct PodListenerConfig {
  // Where the agent wrote bpf_pin_dir; empty = do not register for sk_lookup.
  std::string run_dir;
  // Listening sockets per port: one per data-path worker (uring::WorkerThreads::count).
  unsigned sockets_per_port = 1;
};

// The sets for three ports at `ip` (kOutboundPort.. in production; 0 each picks free ports,
// as the in-process tests do), `count` sockets per port with `options` (netns), each port's
// sockets one SO_REUSEPORT group: sets[i][k] is worker i's socket of port k. Any failure
// closes what was bound and names the port.
Result<std::vector<ListenerSet>> listenPodPorts(const net::IpAddress& ip,
                                                const std::array<uint16_t, 3>& ports,
                                                const net::SocketOptions& options, unsigned count);

// Binds the three ports' listeners inside the netns `netns_fd` (`sockets_per_port` each) and
// registers 15006. Any failure closes what was bound and names the port that failed.
Result<PodListeners> bindPodListeners(int netns_fd, const PodListenerConfig& config);

}  // namespace warren::ztunnel
