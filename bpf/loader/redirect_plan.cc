#include "bpf/loader/redirect_plan.h"

#include <fmt/format.h>

namespace warren::redirect {

namespace {

const char* kindName(RedirectAction::Kind kind) {
  switch (kind) {
    case RedirectAction::Kind::kUnenrol:
      return "unenrol";
    case RedirectAction::Kind::kDetachLookup:
      return "detach-lookup";
    case RedirectAction::Kind::kDropStaleLookup:
      return "drop-stale-lookup";
    case RedirectAction::Kind::kAttachLookup:
      return "attach-lookup";
    case RedirectAction::Kind::kEnrol:
      return "enrol";
  }
  return "?";
}

}  // namespace

std::string toString(const RedirectAction& action) {
  return fmt::format("{} {}", kindName(action.kind), action.netns_cookie);
}

std::vector<RedirectAction> planRedirect(const std::set<uint64_t>& desired,
                                         const PinnedRedirectState& pinned) {
  using Kind = RedirectAction::Kind;
  std::vector<RedirectAction> actions;
  for (uint64_t cookie : pinned.enrolled) {
    if (!desired.contains(cookie)) actions.push_back({Kind::kUnenrol, cookie});
  }
  for (const auto& [cookie, attached] : pinned.lookup_links) {
    if (desired.contains(cookie) && attached) continue;
    actions.push_back({attached ? Kind::kDetachLookup : Kind::kDropStaleLookup, cookie});
  }
  for (uint64_t cookie : desired) {
    auto link = pinned.lookup_links.find(cookie);
    if (link == pinned.lookup_links.end() || !link->second) {
      actions.push_back({Kind::kAttachLookup, cookie});
    }
  }
  for (uint64_t cookie : desired) {
    if (!pinned.enrolled.contains(cookie)) actions.push_back({Kind::kEnrol, cookie});
  }
  // Stable by kind order above; cookies already ascend within each kind (std::set / std::map).
  return actions;
}

}  // namespace warren::redirect
