// The standard process_* metrics every Prometheus client exports, read from /proc at scrape
// time: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics/registry.h"

namespace warren::metrics {

// Fields of /proc/<pid>/stat we need (proc(5)); times in clock ticks.
struct ProcStat {
  uint64_t utime_ticks = 0;      // field 14
  uint64_t stime_ticks = 0;      // field 15
  uint64_t starttime_ticks = 0;  // field 22, since boot
  uint64_t vsize_bytes = 0;      // field 23
  int64_t rss_pages = 0;         // field 24
};

// Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and parentheses, so
// fields are counted from the last ')'. nullopt on malformed content.
std::optional<ProcStat> parseProcStat(std::string_view content);

// "btime <seconds>" from /proc/stat. nullopt when absent.
std::optional<uint64_t> parseBootTime(std::string_view proc_stat);

// The soft "Max open files" limit from /proc/<pid>/limits. nullopt when absent or unlimited.
std::optional<uint64_t> parseMaxFds(std::string_view limits);

struct ProcessSample {
  ProcStat stat;
  uint64_t boot_time_seconds = 0;
  uint64_t open_fds = 0;
  std::optional<uint64_t> max_fds;
  long ticks_per_second = 100;
  long page_size = 4096;
};

// Pure: the families for one sample (tested with fixed numbers).
std::vector<FamilySnapshot> processFamilies(const ProcessSample& sample);

// Reads /proc/self now. nullopt when /proc is unreadable (the families are then omitted).
std::optional<ProcessSample> readSelfProcessSample();

// Adds a collector exporting the process families on every scrape.
void registerProcessMetrics(Registry& registry);

}  // namespace warren::metrics
