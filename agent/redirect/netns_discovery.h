// Finding the netns of pods that already run when the agent starts (no CNI ADD will come for
// them): every netns the agent can see (/run/netns/*, /proc/*/ns/net, deduplicated by inode)
// is entered once and its non-loopback addresses listed; a pod is matched by its IP.
#pragma once

#include <map>
#include <string>

#include "common/net/ip_address.h"

namespace warren::agent {

// Pod IP -> a path that opens that netns. Netns that cannot be entered are skipped.
std::map<net::IpAddress, std::string> scanNetnsByAddress();

}  // namespace warren::agent
