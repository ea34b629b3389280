#include "common/metrics/process_metrics.h"

#include <gtest/gtest.h>

namespace warren::metrics {
namespace {

// A real /proc/self/stat line, with a command name that contains ") (" to catch naive splits.
constexpr const char* kStat =
    "4242 (we) (ird name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0 12345 "
    "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessMetrics, ParseProcStat) {
  auto st = parseProcStat(kStat);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->utime_ticks, 250u);
  EXPECT_EQ(st->stime_ticks, 50u);
  EXPECT_EQ(st->starttime_ticks, 12345u);
  EXPECT_EQ(st->vsize_bytes, 104857600u);
  EXPECT_EQ(st->rss_pages, 2560);
  EXPECT_FALSE(parseProcStat("garbage"));
  EXPECT_FALSE(parseProcStat("1 (x) S 1 2 3"));
  EXPECT_FALSE(parseProcStat(""));
}

TEST(ProcessMetrics, ParseBootTimeAndLimits) {
  EXPECT_EQ(parseBootTime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000u);
  EXPECT_FALSE(parseBootTime("cpu 1 2 3\n"));
  EXPECT_EQ(
      parseMaxFds("Limit                     Soft Limit           Hard Limit           Units\n"
                  "Max open files            1024                 524288               files\n"),
      1024u);
  EXPECT_FALSE(
      parseMaxFds("Max open files            unlimited            unlimited            files\n"));
}

TEST(ProcessMetrics, FamiliesGolden) {
  ProcessSample s;
  s.stat = *parseProcStat(kStat);
  s.boot_time_seconds = 1700000000;
  s.open_fds = 12;
  s.max_fds = 1024;
  s.ticks_per_second = 100;
  s.page_size = 4096;
  EXPECT_EQ(
      renderText(processFamilies(s)),
      "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
      "# TYPE process_cpu_seconds_total counter\n"
      "process_cpu_seconds_total 3\n"
      "# HELP process_open_fds Number of open file descriptors.\n"
      "# TYPE process_open_fds gauge\n"
      "process_open_fds 12\n"
      "# HELP process_max_fds Maximum number of open file descriptors.\n"
      "# TYPE process_max_fds gauge\n"
      "process_max_fds 1024\n"
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\n"
      "process_resident_memory_bytes 10485760\n"
      "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
      "# TYPE process_start_time_seconds gauge\n"
      "process_start_time_seconds 1700000123.45\n"
      "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
      "# TYPE process_virtual_memory_bytes gauge\n"
      "process_virtual_memory_bytes 104857600\n");
}

TEST(ProcessMetrics, ReadsThisProcess) {
  auto s = readSelfProcessSample();
  ASSERT_TRUE(s);
  EXPECT_GT(s->stat.rss_pages, 0);
  EXPECT_GE(s->open_fds, 3u);  // stdin, stdout, stderr at least
  EXPECT_GT(s->boot_time_seconds, 1000000000u);
  Registry r;
  registerProcessMetrics(r);
  std::string text = r.render();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_open_fds ", "process_start_time_seconds "})
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name;
}

}  // namespace
}  // namespace warren::metrics
