// Logging: spdlog, one named logger per component, level settable at run time.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "common/error.h"

namespace warren::log {

// Every line: "<UTC time> <level> <logger>: <message>".
inline constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %n: %v";

// Sets up the default logger: "<time> <level> <component>: message" on stderr.
void init(const std::string& component, const std::string& level = "info");

// Parses "trace|debug|info|warn|error|critical|off".
Result<spdlog::level::level_enum> parseLevel(const std::string& level);

Status setLevel(const std::string& level);

}  // namespace warren::log
