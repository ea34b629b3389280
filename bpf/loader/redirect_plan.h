// Redirect reconciliation, decided apart from done: given the netns cookies that should be
// enrolled and what the pin directory holds now, list the actions that make the kernel state
// match. Pure, table-tested (tests/bpf/redirect_plan_test.cc); RedirectDataplane applies it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace warren::redirect {

// What the pins say now (read back from the kernel; survives agent restarts).
struct PinnedRedirectState {
  std::set<uint64_t> enrolled;  // keys of the warren_enrolled map
  // sk_lookup links pinned under <pin-dir>/netns/<cookie>; false = the link outlived its
  // netns (the kernel detached it), only the pin is left.
  std::map<uint64_t, bool> lookup_links;

  bool operator==(const PinnedRedirectState&) const = default;
};

struct RedirectAction {
  enum class Kind {
    kUnenrol,          // delete the enrolment map entry (outbound capture stops)
    kDetachLookup,     // detach and unpin the netns's sk_lookup link (inbound capture stops)
    kDropStaleLookup,  // unpin a link whose netns is gone
    kAttachLookup,     // attach sk_lookup to the netns and pin the link
    kEnrol,            // add the enrolment map entry
  };
  Kind kind;
  uint64_t netns_cookie;

  bool operator==(const RedirectAction&) const = default;
};

std::string toString(const RedirectAction& action);

// Removals first (a pod leaving never keeps half its capture), then for each pod to enrol:
// inbound capture before outbound. Within a kind, ascending cookie (deterministic).
// A netns never gets a second link: an attached pinned link is kept as is.
std::vector<RedirectAction> planRedirect(const std::set<uint64_t>& desired,
                                         const PinnedRedirectState& pinned);

}  // namespace warren::redirect
