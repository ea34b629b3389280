#include "common/process_memory.h"

#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace warren {
namespace {

// "VmRSS:     1234 kB" -> 1234 * 1024; 0 when the line is another key.
uint64_t statusBytes(const std::string& line, const char* key) {
  std::string prefix = std::string(key) + ":";
  if (line.rfind(prefix, 0) != 0) return 0;
  return std::strtoull(line.c_str() + prefix.size(), nullptr, 10) * 1024;
}

// malloc_info's XML names each arena as <heap nr="N">.
int countArenas() {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == nullptr) return 0;
  int n = 0;
  if (malloc_info(0, f) == 0 && std::fflush(f) == 0) {
    std::string xml(buf, len);
    for (size_t at = xml.find("<heap nr="); at != std::string::npos;
         at = xml.find("<heap nr=", at + 1))
      ++n;
  }
  std::fclose(f);
  std::free(buf);
  return n;
}

}  // namespace

ProcessMemory readProcessMemory() {
  ProcessMemory m;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (uint64_t v = statusBytes(line, "VmRSS")) m.rss = v;
    if (uint64_t v = statusBytes(line, "RssAnon")) m.rss_anon = v;
    if (uint64_t v = statusBytes(line, "RssFile")) m.rss_file = v;
  }
  struct mallinfo2 mi = mallinfo2();
  m.heap_allocated = mi.uordblks + mi.hblkhd;
  m.heap_mmapped = mi.hblkhd;
  m.heap_arena = mi.arena;
  m.heap_free = mi.fordblks;
  m.heap_releasable = mi.keepcost;
  m.arenas = countArenas();
  return m;
}

nlohmann::json toJson(const ProcessMemory& m) {
  return nlohmann::json{
      {"pid", ::getpid()},  // a rolling restart runs two behind one address for a moment
      {"rss_bytes", m.rss},
      {"rss_anon_bytes", m.rss_anon},
      {"rss_file_bytes", m.rss_file},
      {"heap",
       {{"allocated_bytes", m.heap_allocated},
        {"mmapped_bytes", m.heap_mmapped},
        {"arena_bytes", m.heap_arena},
        {"free_bytes", m.heap_free},
        {"releasable_bytes", m.heap_releasable},
        {"arenas", m.arenas}}},
  };
}

std::string tuneAllocator() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::string(tunables).find("glibc.malloc.") != std::string::npos)
    return fmt::format("malloc: GLIBC_TUNABLES={} kept", tunables);
  if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold)) != 1 ||
      mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThreshold)) != 1)
    return "malloc: mallopt refused the fixed thresholds; glibc's dynamic ones stay";
  return fmt::format("malloc: mmap threshold {} KiB, trim threshold {} KiB (fixed)",
                     kMmapThreshold / 1024, kTrimThreshold / 1024);
}

PeriodicTrim::PeriodicTrim(std::chrono::milliseconds interval)
    : thread_("malloc-trim", interval, [] { malloc_trim(0); }) {}

}  // namespace warren
