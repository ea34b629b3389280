// The table view of each admin API document (columns listed in README.md). Pure and tolerant:
// a missing or mistyped field shows as "-", never an error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "warrenctl/resource_kind.h"

namespace warren::ctl {

std::string renderResourceTable(ResourceKind kind, const nlohmann::json& doc);

// `warrenctl waypoint status [NAME]`: the conditions of each waypoint (all when NAME is ""),
// then the Services and workloads using each.
std::string renderWaypointStatus(const nlohmann::json& waypoints_doc, const std::string& name);

// kubectl-style age: "45s", "3m12s", "5h4m", "2d3h". "-" for negative or non-finite input.
std::string formatAge(double seconds);

}  // namespace warren::ctl
