// For whoever owns ztunnel's per-pod 15006 listener (ztunnel itself, the test probe): make the
// listener findable by the sk_lookup program. The agent writes its pin directory to
// <run-dir>/bpf_pin_dir so ztunnel, which only knows --run-dir, can find the map.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/net/ip_address.h"

namespace warren::redirect {

// File under the run dir holding the agent's --bpf-pin-dir (one line).
inline constexpr const char* kPinDirFile = "bpf_pin_dir";

Status writePinDirFile(const std::string& run_dir, const std::string& pin_dir);
Result<std::string> readPinDirFile(const std::string& run_dir);

// Non-loopback addresses of the calling thread's current netns (enter the pod netns first).
Result<std::vector<net::IpAddress>> localAddresses();

// Inserts `listener_fd` (a listening TCP socket bound in the pod netns) into
// <pin_dir>/warren_inbound under each of `pod_addresses`. The kernel removes the entries when
// the socket closes.
Status registerInboundListener(const std::string& pin_dir, int listener_fd,
                               const std::vector<net::IpAddress>& pod_addresses);

}  // namespace warren::redirect
