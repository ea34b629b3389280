#include "common/recent_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace warren {
namespace {

std::vector<std::string> contents(const RecentRing<std::string>& r) {
  std::vector<std::string> out;
  r.forEach([&](const std::string& s) { out.push_back(s); });
  return out;
}

TEST(RecentRing, KeepsTheLastNOldestFirst) {
  RecentRing<std::string> ring(3);
  EXPECT_EQ(contents(ring), std::vector<std::string>{});
  ring.push("a");
  ring.push("b");
  EXPECT_EQ(contents(ring), (std::vector<std::string>{"a", "b"}));
  ring.push("c");
  ring.push("d");
  EXPECT_EQ(contents(ring), (std::vector<std::string>{"b", "c", "d"}));
  for (int i = 0; i < 7; ++i) ring.push("x" + std::to_string(i));
  EXPECT_EQ(contents(ring), (std::vector<std::string>{"x4", "x5", "x6"}));
  EXPECT_EQ(ring.size(), 3u);
}

TEST(RecentRing, AFullRingAssignsInPlace) {
  RecentRing<std::string> ring(2);
  const std::string long_value(200, 'v');  // beyond the small-string buffer
  ring.push(long_value);
  ring.push(long_value);
  const char* first = nullptr;
  ring.forEach([&](const std::string& s) {
    if (!first) first = s.data();
  });
  ring.push(std::string(100, 'w'));  // replaces the oldest: same storage, capacity reused
  const char* last = nullptr;
  ring.forEach([&](const std::string& s) { last = s.data(); });
  EXPECT_EQ(last, first);
}

TEST(RecentRing, ZeroCapacityKeepsOne) {
  RecentRing<int> ring(0);
  ring.push(1);
  ring.push(2);
  std::vector<int> out;
  ring.forEach([&](int v) { out.push_back(v); });
  EXPECT_EQ(out, std::vector<int>{2});
}

}  // namespace
}  // namespace warren
