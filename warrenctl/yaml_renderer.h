// JSON document -> YAML text (yaml-cpp's emitter), key order preserved. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace warren::ctl {

std::string renderYaml(const nlohmann::json& doc);

}  // namespace warren::ctl
