// Where a process's memory is, and the allocator settings the long-running proxies use.
//
// RSS alone cannot tell a leak from an allocator keeping freed pages: `heap_allocated` (what
// the program holds) against `heap_free` (freed, kept by glibc's arenas) can. ztunnel's and
// the waypoint's admin `GET /memory` answer these figures (common/http/memory_routes.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/periodic_thread.h"

namespace warren {

struct ProcessMemory {
  // /proc/self/status, bytes.
  uint64_t rss = 0;
  uint64_t rss_anon = 0;
  uint64_t rss_file = 0;
  // glibc's mallinfo2, summed over every arena, bytes.
  uint64_t heap_allocated = 0;   // in use: uordblks + hblkhd
  uint64_t heap_mmapped = 0;     // of which in chunks mmapped on their own (hblkhd)
  uint64_t heap_arena = 0;       // obtained from the system for the arenas (arena)
  uint64_t heap_free = 0;        // freed, still held by the arenas, their tops included (fordblks)
  uint64_t heap_releasable = 0;  // the main arena's top, which malloc_trim returns (keepcost)
  int arenas = 0;                // malloc arenas (glibc makes one per thread, up to 8 x cores)
};

ProcessMemory readProcessMemory();
nlohmann::json toJson(const ProcessMemory& m);  // also the pid

// glibc's malloc thresholds for a proxy that lives for weeks. By default glibc raises its mmap
// threshold to the size of any mmapped chunk freed (up to 32 MiB) and its trim threshold to
// twice that, for the whole process: after one large buffer is freed (which one raised them in
// ztunnel was not identified), each worker arena keeps megabytes of freed memory at its top and
// never gives it back, and the amount creeps up with the largest burst seen (issue 16's soak:
// node-1's ztunnel RSS +9 MiB in 225 s while what it held grew by 1.8 MiB and the freed
// memory its arenas kept by 8 MiB; malloc_trim does not reach a thread arena's top). Fixed
// thresholds turn that adjustment off: chunks of `kMmapThreshold` or more are mapped on their own
// and unmapped when freed; an arena's top above `kTrimThreshold` (glibc's own default, now
// fixed) is returned when a chunk of 64 KiB or more is freed into it. A 1 MiB trim threshold
// still grew node-1's ztunnel 11.7 % in the soak; 128 KiB kept it flat.
inline constexpr size_t kMmapThreshold = 1024 * 1024;
inline constexpr size_t kTrimThreshold = 128 * 1024;

// Applies them (before the process starts its threads), unless GLIBC_TUNABLES sets malloc
// tunables: an operator's choice wins. Returns what it did, for the start-up log.
std::string tuneAllocator();

// Freed pages in the middle of an arena (a hole under a live chunk) are not returned by the
// thresholds: glibc has no background release like jemalloc's dirty-page decay or tcmalloc's
// release rate. This thread calls malloc_trim(0) every `interval` (which returns every free
// page of every arena's bins; it holds each arena's lock only while walking that arena) and
// stops on destruction. Start it after the signal mask is set: it inherits it.
class PeriodicTrim {
 public:
  explicit PeriodicTrim(std::chrono::milliseconds interval);
  uint64_t passes() const { return thread_.passes(); }

 private:
  PeriodicThread thread_;
};

inline constexpr std::chrono::seconds kTrimInterval{30};

}  // namespace warren
