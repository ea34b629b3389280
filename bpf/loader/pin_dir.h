// The agent's BPF pin directory (--bpf-pin-dir, e.g. /sys/fs/bpf/warren/node-1):
//   <dir>/warren_*            maps, pinned by name by libbpf (names in warren_abi.h)
//   <dir>/link_*              cgroup links (connect4, connect6, sockops, getsockopt), and
//                             link_sk_msg (sockmap link, only with --sockmap-fast-path)
//   <dir>/netns/<cookie>      one sk_lookup link per enrolled pod netns (decimal cookie)
// Everything here is kernel state that outlives the agent; these functions read it back and
// remove it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::redirect {

std::string netnsLinkDir(const std::string& pin_dir);
std::string netnsLinkPath(const std::string& pin_dir, uint64_t netns_cookie);

// One pin under a pin directory, as listPins() finds it.
struct PinEntry {
  std::string path;   // absolute
  bool link = false;  // link_* or netns/<cookie>; anything else pinned in the directory is a map
};

// Every pin under `pin_dir`, sorted by name: the directory's own pins (links `link_*`, maps
// `warren_*`), then the sk_lookup links under netns/ (decimal cookies only: other names are never
// ours). Empty when the directory does not exist. Names alone: nothing is opened.
std::vector<PinEntry> listPins(const std::string& pin_dir);

// mkdir -p, mode 0700 (bpffs directories for pins).
Status makePinDirs(const std::string& path);

// Opens a pinned object (map, program or link); kNotFound when there is no such pin.
Result<UniqueFd> openPin(const std::string& path);

// libbpf refuses to re-use a pinned map whose value size or number of entries differs from
// the program's (an agent of another version pinned it), and the load fails. This removes such
// a pin, so the load creates the current map; a 0 leaves that property unchecked. Nothing
// pinned there: nothing to do.
Status dropPinnedMapOfAnotherShape(const std::string& path, uint32_t value_size,
                                   uint32_t max_entries);

// The kernel id of what a pinned link is attached to: cgroup id (cgroup links), netns inode
// (netns links) or map id (sockmap links); 0 when the target is gone and the kernel detached
// the link.
Result<uint64_t> linkTargetId(int link_fd);

// The sk_lookup links pinned under <dir>/netns: cookie -> still attached. Names that are not
// decimal cookies are ignored (never ours).
Result<std::map<uint64_t, bool>> readLookupLinks(const std::string& pin_dir);

// The keys of a pinned HASH map keyed by __u64 (warren_enrolled).
Result<std::set<uint64_t>> readU64Keys(int map_fd);

// Detaches every pinned link and removes every pin and directory under `pin_dir`, then the
// directory itself. Missing directory = already uninstalled = success.
Status uninstallPinDir(const std::string& pin_dir);

}  // namespace warren::redirect
