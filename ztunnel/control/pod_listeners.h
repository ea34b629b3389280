// The per-pod listeners ztunnel binds inside an enrolled pod's netns after a ZDS add
// (INTEROP §13, DESIGN "Ports"): 15001 outbound capture, 15006 inbound plaintext capture,
// 15008 HBONE; all with SO_REUSEPORT so a restarting ztunnel binds beside the old one. The 15006
// socket is registered in the agent's sk_lookup map (bpf/loader/inbound_registration.h) under
// the pod's addresses when the agent left its pin dir in <run-dir>/bpf_pin_dir. Closing the
// sockets (destroying PodListeners) unbinds them and the kernel drops the map entries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/net/ip_address.h"
#include "common/unique_fd.h"

namespace warren::ztunnel {

inline constexpr uint16_t kOutboundPort = 15001;
inline constexpr uint16_t kInboundPlainPort = 15006;
inline constexpr uint16_t kHbonePort = 15008;

struct PodListeners {
  UniqueFd outbound;                              // 0.0.0.0:15001
  UniqueFd inbound_plain;                         // 0.0.0.0:15006
  UniqueFd hbone;                                 // 0.0.0.0:15008
  std::vector<net::IpAddress> registered_addresses;  // sk_lookup keys for inbound_plain
};

struct PodListenerConfig {
  // Where the agent wrote bpf_pin_dir; empty = do not register for sk_lookup.
  std::string run_dir;
};

// Binds the three listeners inside the netns `netns_fd` and registers 15006. Any failure
// closes what was bound and names the port that failed.
Result<PodListeners> bindPodListeners(int netns_fd, const PodListenerConfig& config);

}  // namespace warren::ztunnel
