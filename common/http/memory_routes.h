// GET /memory and POST /memory/trim on ztunnel's and the waypoint's admin listeners: where the
// process's memory is (common/process_memory.h). Envoy's /memory answers the same question
// from tcmalloc.
#pragma once

#include "common/http/router.h"

namespace warren::http {

// GET /memory: toJson(readProcessMemory()). POST /memory/trim: malloc_trim(0), then the
// figures before and after (what the arenas held that the program did not).
void addMemoryRoutes(Router& router);

}  // namespace warren::http
