// The project's log line (common/log.h kPattern: "%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %n: %v", UTC)
// written by hand for the batched access log (buffered_sink.h): byte for byte what spdlog's
// pattern_formatter makes of that pattern, without its per-flag formatters. The waypoint writes
// a line per request: spdlog's pattern formatter was 1.8 % of the waypoint at 1000 req/s in a
// DWARF profile, this one 0.7 % (bench/README.md, "The L7 row"). The date and time to the
// second are formatted once per second; the microseconds, level and logger name are appended.
#pragma once

#include <spdlog/formatter.h>

#include <array>
#include <cstdint>
#include <memory>

namespace warren::accesslog {

class LineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  int64_t second_ = INT64_MIN;    // the second `stamp_` shows
  std::array<char, 20> stamp_{};  // "YYYY-MM-DDTHH:MM:SS."
};

}  // namespace warren::accesslog
