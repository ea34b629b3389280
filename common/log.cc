#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace warren::log {

Result<spdlog::level::level_enum> parseLevel(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  // from_str returns off for unknown names; only accept "off" when asked for.
  if (l == spdlog::level::off && level != "off")
    return fail(Error::invalid("unknown log level '" + level +
                               "' (trace, debug, info, warn, error, critical, off)"));
  return l;
}

void init(const std::string& component, const std::string& level) {
  auto logger = spdlog::stderr_logger_mt(component);
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  if (auto l = parseLevel(level)) spdlog::set_level(*l);
}

Status setLevel(const std::string& level) {
  auto l = parseLevel(level);
  if (!l) return fail(l.error());
  spdlog::set_level(*l);
  return ok();
}

}  // namespace warren::log
