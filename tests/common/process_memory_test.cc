#include "common/process_memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <thread>

namespace warren {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(WARREN_TSAN)  // CMakeLists.txt: -U__SANITIZE_THREAD__
#define WARREN_SKIP_UNDER_SANITIZERS() \
  GTEST_SKIP() << "the sanitizer's allocator replaces glibc's malloc; mallinfo2 does not see it"
#else
#define WARREN_SKIP_UNDER_SANITIZERS() (void)0
#endif

// Keeps the compiler from eliding an allocation whose memory nothing reads.
void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

// RSS in bytes from /proc/self/statm without allocating: an allocation made after the blocks
// below would sit above them in the arena and keep its top from shrinking.
uint64_t rssNoAlloc() {
  char buf[128];
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long size = 0, resident = 0;
  if (std::sscanf(buf, "%lu %lu", &size, &resident) != 2) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// `blocks.size()` resident 64 KiB blocks from malloc (under the mmap threshold: from the
// calling thread's arena), with no other allocation between them.
constexpr size_t kBlock = 64 * 1024;
void allocateTouched(std::span<char*> blocks) {
  for (char*& b : blocks) {
    b = static_cast<char*>(std::malloc(kBlock));
    ASSERT_NE(b, nullptr);
    std::memset(b, 2, kBlock);
    escape(b);
  }
}

// A large chunk freed: with glibc's dynamic thresholds this raises the mmap threshold to its
// size and the trim threshold to twice that, for the whole process.
void freeOneLargeChunk() {
  size_t n = 8 * 1024 * 1024;
  auto* p = static_cast<char*>(std::malloc(n));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, n);
  escape(p);
  std::free(p);
}

TEST(ProcessMemory, FixedThresholdsSurviveALargeFree) {
  WARREN_SKIP_UNDER_SANITIZERS();
  ::unsetenv("GLIBC_TUNABLES");
  EXPECT_NE(tuneAllocator().find("fixed"), std::string::npos);
  freeOneLargeChunk();

  // A 2 MiB buffer is above the fixed mmap threshold: mapped on its own (the dynamic threshold
  // would now be 8 MiB and put it in an arena).
  uint64_t mapped_before = readProcessMemory().heap_mmapped;
  std::unique_ptr<char[]> big(new char[2 * 1024 * 1024]);
  escape(big.get());
  EXPECT_GE(readProcessMemory().heap_mmapped, mapped_before + 2 * 1024 * 1024);
  big.reset();

  // A worker thread's arena that grew by 6 MiB of 64 KiB buffers gives them back when they are
  // freed: its top is above the fixed trim threshold (the dynamic one would be 16 MiB).
  std::thread worker([] {
    constexpr size_t kBlocks = 96;
    char* blocks[kBlocks];
    allocateTouched(blocks);
    uint64_t full = rssNoAlloc();
    for (size_t i = kBlocks; i-- > 0;) std::free(blocks[i]);
    uint64_t after = rssNoAlloc();
    EXPECT_LE(after + 4 * 1024 * 1024, full) << "RSS " << full << " -> " << after;
  });
  worker.join();
}

TEST(ProcessMemory, PeriodicTrimReturnsHolesUnderLiveChunks) {
  WARREN_SKIP_UNDER_SANITIZERS();
  // Every other 64 KiB block freed: holes with a live block above each, which no threshold
  // returns (the arena's top stays where it is).
  constexpr size_t kBlocks = 128;
  char* blocks[kBlocks];
  allocateTouched(blocks);
  for (size_t i = 0; i < kBlocks; i += 2) std::free(blocks[i]);
  uint64_t holes = rssNoAlloc();
  {
    PeriodicTrim trim(std::chrono::milliseconds(20));
    for (int i = 0; i < 250 && trim.passes() < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_GE(trim.passes(), 2u);
  }
  uint64_t after = rssNoAlloc();
  // 4 MiB of holes: most of it back (each hole keeps its partial first and last page).
  EXPECT_LE(after + 3 * 1024 * 1024, holes) << "RSS " << holes << " -> " << after;
  for (size_t i = 1; i < kBlocks; i += 2) std::free(blocks[i]);
}

TEST(ProcessMemory, AnOperatorsTunablesWin) {
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2", 1);
  EXPECT_NE(tuneAllocator().find("kept"), std::string::npos);
  ::unsetenv("GLIBC_TUNABLES");
}

TEST(ProcessMemory, ReadsTheStatusAndTheHeap) {
  WARREN_SKIP_UNDER_SANITIZERS();
  auto m = readProcessMemory();
  EXPECT_GT(m.rss, 0u);
  EXPECT_GT(m.rss_anon, 0u);
  EXPECT_GT(m.heap_allocated, 0u);
  EXPECT_GE(m.arenas, 1);
  auto j = toJson(m);
  EXPECT_EQ(j["rss_bytes"].get<uint64_t>(), m.rss);
  EXPECT_EQ(j["heap"]["free_bytes"].get<uint64_t>(), m.heap_free);
  EXPECT_GT(j["pid"].get<int>(), 0);
}

}  // namespace
}  // namespace warren
