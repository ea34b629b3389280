// LineFormatter writes what spdlog's pattern_formatter makes of the project's pattern, byte for
// byte: the access lines keep their format whichever formats them.
#include "common/accesslog/line_formatter.h"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>

#include <chrono>
#include <string>

#include "common/log.h"

namespace warren::accesslog {
namespace {

using namespace std::chrono;

std::string render(spdlog::formatter& f, const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t out;
  f.format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(LineFormatter, WritesWhatThePatternFormatterWrites) {
  spdlog::pattern_formatter reference(std::string(log::kPattern), spdlog::pattern_time_type::utc);
  LineFormatter ours;
  const auto base = system_clock::time_point(seconds(1'764'979'199));  // 2025-12-05T23:59:59Z
  // Within one second (the cached stamp), across a second, a minute, a day and a year, at the
  // fraction's edges.
  const system_clock::duration offsets[] = {
      microseconds(0),
      microseconds(1),
      microseconds(999'999),
      microseconds(1'000'000),
      microseconds(1'000'001),
      seconds(61) + microseconds(42),
      hours(24 * 27) + microseconds(500'000),  // into 2026
  };
  const spdlog::level::level_enum levels[] = {spdlog::level::info, spdlog::level::debug,
                                              spdlog::level::warn, spdlog::level::err};
  int n = 0;
  for (auto offset : offsets) {
    for (auto level : levels) {
      spdlog::details::log_msg msg(base + offset, spdlog::source_loc{}, "access", level,
                                   "request complete src.addr=10.0.0.1:4000 code=200");
      EXPECT_EQ(render(ours, msg), render(reference, msg)) << "offset " << offset.count();
      ++n;
    }
  }
  EXPECT_EQ(n, 28);
  spdlog::details::log_msg empty(base, spdlog::source_loc{}, "", spdlog::level::info, "");
  EXPECT_EQ(render(ours, empty), render(reference, empty));
  auto clone = ours.clone();
  spdlog::details::log_msg later(base + hours(1), spdlog::source_loc{}, "access",
                                 spdlog::level::info, "x");
  EXPECT_EQ(render(*clone, later), render(reference, later));
}

}  // namespace
}  // namespace warren::accesslog
