// The sk_msg fast path seen from outside the agent (ztunnel): whether it may move bytes of given
// sockets. Only a socket with a record in warren_socks_state can be in warren_socks
// (sockops_fastpath makes the record, when it finds the socket's two ends on this node, before
// inserting it), and only a socket in warren_socks is ever sent to or sends through the sk_msg
// program. So a socket without a record carries its bytes through TCP alone, and splice reads all
// of them.
#pragma once

#include <span>
#include <string>

namespace warren::redirect {

// True when any of `fds` (sockets of this process) has a record in <pin_dir>/warren_socks_state
// (looked up by fd, as SK_STORAGE maps are from user space), or when that cannot be told: the
// map not pinned while <pin_dir>/link_sk_msg is (the fast path on, the map's pin removed by
// hand), or a lookup failing otherwise than ENOENT. False with the fast path off.
bool fastPathMayRedirect(const std::string& pin_dir, std::span<const int> fds);

}  // namespace warren::redirect
