// --namespace / --node / --workload applied to an admin API document. Pure; items that do not
// carry the filtered field are kept (a filter narrows, it never hides what it cannot judge).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "warrenctl/resource_kind.h"

namespace warren::ctl {

struct ResourceFilter {
  std::optional<std::string> namespace_;
  std::optional<std::string> node;
  std::optional<std::string> workload;

  bool empty() const { return !namespace_ && !node && !workload; }
};

// A copy of `doc` whose "items" array holds only the matching items (see README.md for which
// fields each kind is matched on). Documents without "items" are returned unchanged.
nlohmann::json applyFilter(ResourceKind kind, const nlohmann::json& doc,
                           const ResourceFilter& filter);

}  // namespace warren::ctl
