// GET /api/v1/redirection (warrenctl/README.md): this node's eBPF capture as one document, a
// pure function of what the enrolment controller knows about its pods and what the pins say
// (links, programs, enrolled cookies, counters), so it is table-tested without a kernel.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/redirect/enrolment_controller.h"
#include "bpf/loader/pinned_counters.h"
#include "bpf/loader/pinned_inventory.h"
#include "bpf/loader/redirect_dataplane.h"

namespace warren::agent::admin {

struct RedirectionInputs {
  std::string node;
  std::string pin_dir;
  std::string cgroup;      // --cgroup, named as the target of links on it
  uint64_t cgroup_id = 0;  // inode of --cgroup (0 unknown)
  std::vector<EnrolmentController::PodRedirection> pods;
  std::map<uint64_t, std::string> netns_paths;  // netns inode -> a path naming it
  // nullopt: the pins could not be read (no eBPF capture); `pins_error` says why.
  std::optional<redirect::PinnedInventory> inventory;
  std::vector<redirect::NamedCounter> counters;
  std::optional<redirect::PinRepairs> pin_repairs;  // nullopt: no eBPF capture
  std::string pins_error;
};

// Pod state: "pending" while the netns is unknown, "enrolled" when its cookie is in
// warren_enrolled, "failed" when the netns is known but the cookie is not enrolled (and
// capture is on). Without capture (no inventory) a pod with a netns is "enrolled" in ZDS only
// and reported as such: "zds-only".
std::string podRedirectionState(const EnrolmentController::PodRedirection& pod,
                                const std::optional<redirect::PinnedInventory>& inventory);

nlohmann::json redirectionDocument(const RedirectionInputs& in);

}  // namespace warren::agent::admin
