#include "common/http/memory_routes.h"

#include <malloc.h>

#include "common/process_memory.h"

namespace warren::http {

void addMemoryRoutes(Router& router) {
  router.add("GET", "/memory", [](const HttpRequest&) {
    return HttpResponse::json(200, toJson(readProcessMemory()).dump(2) + "\n");
  });
  router.add("POST", "/memory/trim", [](const HttpRequest&) {
    nlohmann::json before = toJson(readProcessMemory());
    bool released = malloc_trim(0) != 0;
    nlohmann::json out{{"released", released},
                       {"before", std::move(before)},
                       {"after", toJson(readProcessMemory())}};
    return HttpResponse::json(200, out.dump(2) + "\n");
  });
}

}  // namespace warren::http
