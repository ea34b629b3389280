// What Warren has in the kernel for one pin directory, read back from the pins only (no
// skeleton, no loading): every pinned link (cgroup links `link_*`, sk_lookup links
// `netns/<cookie>`) with its kernel id, program and target, the programs those links run, and
// the netns cookies in `warren_enrolled`. For the agent's admin API (`/api/v1/redirection`) and
// anyone debugging; `bpftool link show` reports the same ids.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::redirect {

struct PinnedLink {
  uint32_t id = 0;
  std::string type;          // libbpf's link type name: "cgroup", "netns", ...
  std::string attach_type;   // section-style: "cgroup/connect4", "sockops", "sk_lookup", ...
  uint32_t prog_id = 0;
  std::string program;       // the program's kernel name ("" when it cannot be read)
  uint64_t cgroup_id = 0;    // cgroup links: the cgroup's id (= its directory inode); 0 = gone
  uint64_t netns_ino = 0;    // netns links: the netns inode; 0 = gone
  uint64_t netns_cookie = 0; // netns links: from the pin name netns/<cookie>
  std::string pin;           // absolute pin path
};

struct LoadedProgram {
  uint32_t id = 0;
  std::string name;
  std::string attach_type;  // as for the links that run it
  std::string pin;          // "" : Warren pins links, not programs
};

struct PinnedInventory {
  std::vector<PinnedLink> links;        // cgroup links first (by pin name), then netns links
  std::vector<LoadedProgram> programs;  // each program run by some link, once, by id
  std::set<uint64_t> enrolled_cookies;  // keys of warren_enrolled
};

// kNotFound when `pin_dir` does not exist (nothing installed); a pin that is not a link is
// skipped; other failures name the pin.
Result<PinnedInventory> readPinnedInventory(const std::string& pin_dir);

// Section-style name of a BPF attach type ("cgroup/connect4"), libbpf's name for the rest.
std::string attachTypeName(uint32_t attach_type);

}  // namespace warren::redirect
