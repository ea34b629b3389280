// The stream send buffer as a ring: bytes come out in order across the wrap, appends take what
// fits, storage grows to the capacity and no further, and a full queue drained a frame at a
// time and refilled a read at a time moves no bytes (the vector it replaced moved the whole
// queue per append once it reached the capacity).
#include "common/http2/byte_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>

namespace warren::http2 {
namespace {

std::span<const uint8_t> asBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string frontString(const ByteQueue& q, size_t n) {
  std::string out;
  for (auto part : q.front(n)) out.append(reinterpret_cast<const char*>(part.data()), part.size());
  return out;
}

TEST(ByteQueue, KeepsOrderAcrossTheWrapAgainstAModel) {
  ByteQueue q(1000);
  std::deque<char> model;
  std::mt19937 rng(7);
  char next = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 2 == 0) {
      std::string chunk(rng() % 300, '\0');
      for (char& c : chunk) c = next++;
      size_t took = q.append(asBytes(chunk));
      ASSERT_EQ(took, std::min(chunk.size(), 1000 - model.size()));
      model.insert(model.end(), chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(took));
      next = static_cast<char>(next - static_cast<char>(chunk.size() - took));  // not taken
    } else {
      size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
      ASSERT_EQ(frontString(q, n),
                std::string(model.begin(), model.begin() + static_cast<ptrdiff_t>(n)));
      q.drop(n);
      model.erase(model.begin(), model.begin() + static_cast<ptrdiff_t>(n));
    }
    ASSERT_EQ(q.size(), model.size());
    ASSERT_EQ(q.space(), 1000 - model.size());
  }
}

TEST(ByteQueue, FrontSpansWrapAndAFullQueueTakesNothing) {
  ByteQueue q(8);
  ASSERT_EQ(q.append(asBytes("abcdefgh")), 8u);
  EXPECT_EQ(q.append(asBytes("x")), 0u) << "full";
  q.drop(6);
  ASSERT_EQ(q.append(asBytes("ijklmnop")), 6u);
  auto parts = q.front(8);
  EXPECT_EQ(parts[0].size(), 2u) << "gh at the end of the storage";
  EXPECT_EQ(parts[1].size(), 6u) << "ijklmn wrapped to its start";
  EXPECT_EQ(frontString(q, 8), "ghijklmn");
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.append(asBytes("again")), 5u);
  EXPECT_EQ(frontString(q, 5), "again");
}

// Issue 12: the steady state of a backed-up tunnel. The storage stops at the capacity and the
// bytes a frame reads stay where they were written (the front moves, nothing else does).
TEST(ByteQueue, ABackedUpQueueRefilledAReadAtATimeMovesNothing) {
  constexpr size_t kCapacity = 256 * 1024, kRead = 16375;
  ByteQueue q(kCapacity);
  std::string read(kRead, 'r');
  while (q.append(asBytes(read)) == kRead) {
  }
  const uint8_t* before = q.front(1)[0].data();
  for (int i = 0; i < 100; ++i) {
    auto parts = q.front(kRead + 1);  // where the byte after this frame is now
    const uint8_t* second = parts[0].size() > kRead ? parts[0].data() + kRead
                                                    : parts[1].data() + (kRead - parts[0].size());
    q.drop(kRead);
    EXPECT_EQ(q.front(1)[0].data(), second) << "the bytes behind the frame did not move";
    ASSERT_EQ(q.append(asBytes(read)), kRead);
  }
  EXPECT_NE(q.front(1)[0].data(), before);
  EXPECT_EQ(q.size() + q.space(), kCapacity);
}

}  // namespace
}  // namespace warren::http2
