#include "bench/tools/rate_schedule.h"

#include <gtest/gtest.h>

namespace warren::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(RateSchedule, RejectsNonsense) {
  EXPECT_FALSE(RateSchedule::create(0, 4));
  EXPECT_FALSE(RateSchedule::create(-1, 4));
  EXPECT_FALSE(RateSchedule::create(1000, 0));
  EXPECT_FALSE(RateSchedule::create(std::numeric_limits<double>::infinity(), 1));
  EXPECT_FALSE(RateSchedule::create(std::numeric_limits<double>::quiet_NaN(), 1));
  auto bad = RateSchedule::create(1000, 0);
  EXPECT_NE(bad.error().message().find("connections"), std::string::npos);
}

TEST(RateSchedule, InterleavesConnectionsOnOneGlobalClock) {
  auto s = RateSchedule::create(1000, 4);  // one request per ms overall
  ASSERT_TRUE(s);
  EXPECT_EQ(s->dueOffset(0, 0), nanoseconds(0));
  EXPECT_EQ(s->dueOffset(1, 0), milliseconds(1));
  EXPECT_EQ(s->dueOffset(3, 0), milliseconds(3));
  EXPECT_EQ(s->dueOffset(0, 1), milliseconds(4));
  EXPECT_EQ(s->dueOffset(2, 10), milliseconds(42));
}

TEST(RateSchedule, CountsExactlyTheRequestsDueBeforeTheEnd) {
  auto s = RateSchedule::create(1000, 4);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->totalRequests(seconds(10)), 10000u);
  EXPECT_EQ(s->requestsFor(0, seconds(10)), 2500u);
  EXPECT_EQ(s->requestsFor(3, seconds(10)), 2500u);
  // 10 ms -> global indices 0..9: conns 0,1 send 3, conns 2,3 send 2.
  EXPECT_EQ(s->requestsFor(0, milliseconds(10)), 3u);
  EXPECT_EQ(s->requestsFor(1, milliseconds(10)), 3u);
  EXPECT_EQ(s->requestsFor(2, milliseconds(10)), 2u);
  EXPECT_EQ(s->requestsFor(3, milliseconds(10)), 2u);
  EXPECT_EQ(s->requestsFor(4, milliseconds(10)), 0u);  // no such connection
  EXPECT_EQ(s->totalRequests(nanoseconds(0)), 0u);
  // Every counted request is due before the end, the next one is not.
  for (unsigned c = 0; c < 4; ++c) {
    uint64_t n = s->requestsFor(c, milliseconds(10));
    EXPECT_LT(s->dueOffset(c, n - 1), milliseconds(10));
    EXPECT_GE(s->dueOffset(c, n), milliseconds(10));
  }
}

TEST(RateSchedule, FractionalRates) {
  auto s = RateSchedule::create(3, 1);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->totalRequests(seconds(1)), 3u);
  EXPECT_EQ(s->dueOffset(0, 1), nanoseconds(333'333'333));
  EXPECT_EQ(s->totalRequests(milliseconds(334)), 2u);
}

}  // namespace
}  // namespace warren::bench
