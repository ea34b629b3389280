// Reads Warren's per-CPU decision counters from the pinned map <pin-dir>/warren_counters,
// without loading anything: the agent's admin API and ztunnel's /metrics both use this, so
// there is one reader and one name table (warren_counter_names in warren_abi.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::redirect {

struct NamedCounter {
  std::string name;
  uint64_t value = 0;  // summed over every possible CPU
};

// The name of counter `index`: warren_counter_names, or "counter_<index>" for an index the
// table does not know (a BPF object newer than this binary).
std::string counterName(uint32_t index);

// One entry per index of the pinned map, in index order. kNotFound when the map is not pinned
// (no agent ran with this pin dir); other failures name the map and the syscall.
Result<std::vector<NamedCounter>> readPinnedCounters(const std::string& pin_dir);

}  // namespace warren::redirect
