#include "common/uring/event_loop.h"

#include <cstdlib>

#include "common/log.h"
#include "common/uring/epoll_loop.h"
#include "common/uring/uring_loop.h"

namespace warren::uring {

const char* backendName(Backend b) { return b == Backend::kUring ? "io_uring" : "epoll"; }

Result<Backend> parseBackend(const std::string& name) {
  if (name == "uring" || name == "io_uring") return Backend::kUring;
  if (name == "epoll") return Backend::kEpoll;
  return fail(Error::invalid("unknown I/O backend '" + name + "' (uring, epoll)"));
}

Result<Backend> backendFromEnvironment() {
  const char* env = std::getenv("WARREN_IO_BACKEND");
  if (!env || !*env) return Backend::kUring;
  auto b = parseBackend(env);
  if (!b) return fail(b.error().wrap("WARREN_IO_BACKEND"));
  return b;
}

Result<std::unique_ptr<EventLoop>> EventLoop::create(const LoopOptions& options) {
  if (options.backend == Backend::kEpoll) {
    auto loop = EpollLoop::create(options);
    if (!loop) return fail(loop.error());
    return std::unique_ptr<EventLoop>(std::move(*loop));
  }
  auto loop = UringLoop::create(options);
  if (loop) return std::unique_ptr<EventLoop>(std::move(*loop));
  if (!options.fallback_to_epoll) return fail(loop.error());
  spdlog::warn("io_uring unavailable, using epoll: {}", loop.error().message());
  auto fallback = EpollLoop::create(options);
  if (!fallback) return fail(fallback.error());
  return std::unique_ptr<EventLoop>(std::move(*fallback));
}

bool EventLoop::runUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    runOnce(std::min(left, std::chrono::milliseconds(50)));
  }
  return true;
}

}  // namespace warren::uring
