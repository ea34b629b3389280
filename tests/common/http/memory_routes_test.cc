#include "common/http/memory_routes.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

namespace warren::http {
namespace {

// 48 MiB in 64 KiB blocks: under glibc's mmap threshold, so they come from the arenas, the
// memory /memory must tell apart (held by the program, then freed but kept, then returned).
constexpr size_t kBlock = 64 * 1024;
constexpr size_t kBlocks = 768;

TEST(MemoryRoutes, TellsAllocatedFromFreedAndTrimReturnsIt) {
#if defined(__SANITIZE_ADDRESS__) || defined(WARREN_TSAN)  // CMakeLists.txt: -U__SANITIZE_THREAD__
  GTEST_SKIP() << "the sanitizer's allocator replaces glibc's malloc; mallinfo2 does not see it";
#endif
  Router router;
  addMemoryRoutes(router);
  auto call = [&](const char* method, const char* path) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    return router.dispatch(r);
  };
  auto get = [&] {
    auto r = call("GET", "/memory");
    EXPECT_EQ(r.status, 200);
    return nlohmann::json::parse(r.body);
  };
  auto start = get();
  EXPECT_GT(start["rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(start["heap"]["arenas"].get<int>(), 1);

  std::vector<std::unique_ptr<char[]>> blocks;
  for (size_t i = 0; i < kBlocks; ++i) {
    blocks.emplace_back(new char[kBlock]);
    std::memset(blocks.back().get(), 0x5a, kBlock);  // touched: resident
  }
  auto held = get();
  uint64_t total = kBlock * kBlocks;
  EXPECT_GE(held["heap"]["allocated_bytes"].get<uint64_t>(),
            start["heap"]["allocated_bytes"].get<uint64_t>() + total);
  EXPECT_GE(held["rss_bytes"].get<uint64_t>(), start["rss_bytes"].get<uint64_t>() + total / 2);

  // Free every other block: the holes cannot shrink the heap's top, so glibc keeps them.
  for (size_t i = 0; i < kBlocks; i += 2) blocks[i].reset();
  auto freed = get();
  EXPECT_LE(freed["heap"]["allocated_bytes"].get<uint64_t>(),
            held["heap"]["allocated_bytes"].get<uint64_t>() - total / 2 + kBlock);
  EXPECT_GE(freed["heap"]["free_bytes"].get<uint64_t>(), total / 2);

  auto trim = call("POST", "/memory/trim");
  ASSERT_EQ(trim.status, 200);
  auto t = nlohmann::json::parse(trim.body);
  EXPECT_TRUE(t["released"].get<bool>()) << trim.body;
  // The holes' pages went back to the kernel: RSS fell by most of them, and the program still
  // holds what it held.
  EXPECT_LE(t["after"]["rss_bytes"].get<uint64_t>() + total / 4,
            t["before"]["rss_bytes"].get<uint64_t>())
      << trim.body;
  auto a0 = t["before"]["heap"]["allocated_bytes"].get<uint64_t>();
  auto a1 = t["after"]["heap"]["allocated_bytes"].get<uint64_t>();
  EXPECT_LT(a1 > a0 ? a1 - a0 : a0 - a1, kBlock) << trim.body;  // the answer's own JSON
  EXPECT_EQ(call("GET", "/memory/trim").status, 405);
}

}  // namespace
}  // namespace warren::http
