// Turns admin API documents into what warrenctl prints: -o table|json|yaml. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "warrenctl/resource_kind.h"

namespace warren::ctl {

enum class OutputFormat { kTable, kJson, kYaml };

std::optional<OutputFormat> parseOutputFormat(const std::string& name);

// One document in the chosen form. JSON is the document as received (pretty-printed), so it
// carries every field the agent sent; YAML is the same tree.
std::string renderOutput(ResourceKind kind, const nlohmann::json& doc, OutputFormat format);

// `warrenctl all`: each kind's document (or the error fetching it), in order. Table: one
// titled section per kind; JSON/YAML: one object keyed by kind name, with failed kinds under
// "errors".
std::string renderAll(const std::vector<std::pair<ResourceKind, Result<nlohmann::json>>>& docs,
                      OutputFormat format);

}  // namespace warren::ctl
