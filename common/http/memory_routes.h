// GET /memory and POST /memory/trim: where a process's memory is, for ztunnel's and the
// waypoint's admin listeners (Envoy's /memory answers the same question from tcmalloc).
//
// RSS alone cannot tell a leak from an allocator keeping freed pages: `heap.allocated_bytes`
// (what the program holds) against `heap.free_bytes` (freed, kept by glibc's arenas) can.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/http/router.h"

namespace warren::http {

struct ProcessMemory {
  // /proc/self/status, bytes.
  uint64_t rss = 0;
  uint64_t rss_anon = 0;
  uint64_t rss_file = 0;
  // glibc's mallinfo2, summed over every arena, bytes.
  uint64_t heap_allocated = 0;   // in use: uordblks + hblkhd
  uint64_t heap_mmapped = 0;     // of which in chunks mmapped on their own (hblkhd)
  uint64_t heap_arena = 0;       // obtained from the system for the arenas (arena)
  uint64_t heap_free = 0;        // freed, still held by the arenas (fordblks)
  uint64_t heap_releasable = 0;  // at the top of the main arena, malloc_trim can return (keepcost)
  int arenas = 0;                // malloc arenas (glibc makes one per thread up to 8 x cores)
};

ProcessMemory readProcessMemory();
nlohmann::json toJson(const ProcessMemory& m);

// GET /memory: toJson(readProcessMemory()). POST /memory/trim: malloc_trim(0), then the
// figures before and after (what the arenas held that the program did not).
void addMemoryRoutes(Router& router);

}  // namespace warren::http
