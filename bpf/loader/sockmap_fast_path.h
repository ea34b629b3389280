// The sk_msg same-node fast path (agent --sockmap-fast-path, off by default), in the style of
// Cilium's and Kmesh's sockmap acceleration: sockops_fastpath puts established sockets whose
// two ends are both on this node into warren_socks; the sk_msg program attached to that map
// hands each message straight to the peer socket. See bpf/README.md for when it applies.
//
// Kernel state, all under the pin dir: warren_socks (SOCKHASH), warren_socks_state
// (SK_STORAGE) and link_sk_msg (a sockmap link, BPF_LINK_CREATE for sk_msg: Linux >= 6.10).
// Like the cgroup links it outlives the agent and is re-adopted (BPF_LINK_UPDATE) by the next.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "warren_abi.h"

struct bpf_object;
struct bpf_program;

namespace warren::redirect {

class SockmapFastPath {
 public:
  // Loads both fast-path objects with `cfg` (creating or re-using the pinned maps) and attaches
  // the sk_msg program to warren_socks through <pin_dir>/link_sk_msg: an existing link on the
  // same map gets the new program in place, a stale one is replaced. Never two.
  static Result<std::unique_ptr<SockmapFastPath>> attach(const std::string& pin_dir,
                                                         const warren_fastpath_cfg& cfg);

  // The sockops program to attach to the cgroup instead of the plain one.
  bpf_program* sockopsProgram() const;
  // link_sk_msg, held open: with the pin removed by hand the link stays attached (the agent
  // holds it as it holds the cgroup links, and pins it again).
  int linkFd() const;
  // Both objects, whose maps (warren_socks, warren_socks_state) are pinned by name.
  std::vector<bpf_object*> objects() const;

  // Turns a previously enabled fast path off: detaches link_sk_msg and unpins its maps. Call it
  // after the cgroup runs the plain sockops again (nothing new gets inserted). Connections
  // already on the fast path keep working until they close: each socket in the map holds the
  // sk_msg program, which holds the map. Nothing pinned = nothing to do.
  static Status remove(const std::string& pin_dir);

  ~SockmapFastPath();

 private:
  struct Objects;
  explicit SockmapFastPath(std::unique_ptr<Objects> objects);
  std::unique_ptr<Objects> objects_;
};

}  // namespace warren::redirect
