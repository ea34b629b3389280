// MessageCounter: messages counted at every split point and byte by byte, empty messages, a
// length larger than what has arrived, and the boundary flag.
#include "common/grpc/message_counter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace warren::grpc {
namespace {

std::vector<uint8_t> framed(const std::vector<std::string>& messages) {
  std::vector<uint8_t> out;
  for (const auto& m : messages)
    appendMessage(out, {reinterpret_cast<const uint8_t*>(m.data()), m.size()});
  return out;
}

TEST(GrpcMessageCounter, CountsAtEverySplitPoint) {
  auto wire = framed({"hello", "", std::string(70000, 'x'), "z"});
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    MessageCounter c;
    c.feed(std::span(wire).first(cut));
    c.feed(std::span(wire).subspan(cut));
    ASSERT_EQ(c.messages(), 4u) << "cut at " << cut;
    EXPECT_TRUE(c.atBoundary());
  }
}

TEST(GrpcMessageCounter, CountsByteByByte) {
  auto wire = framed({"a", "", "bc"});
  MessageCounter c;
  std::vector<uint64_t> seen;
  for (uint8_t b : wire) {
    c.feed(std::span(&b, 1));
    seen.push_back(c.messages());
  }
  // A message counts when its 5-byte prefix is complete: bytes 5, 11 (empty), 16.
  EXPECT_EQ(seen[3], 0u);
  EXPECT_EQ(seen[4], 1u);
  EXPECT_EQ(seen[10], 2u);
  EXPECT_EQ(seen[15], 3u);
  EXPECT_TRUE(c.atBoundary());
}

TEST(GrpcMessageCounter, InsideAMessageIsNotABoundary) {
  auto wire = framed({std::string(100, 'q')});
  MessageCounter c;
  c.feed(std::span(wire).first(50));
  EXPECT_EQ(c.messages(), 1u);
  EXPECT_FALSE(c.atBoundary());
  c.feed(std::span(wire).subspan(50, 3));  // more of the same message: skipped, not counted
  EXPECT_EQ(c.messages(), 1u);
}

}  // namespace
}  // namespace warren::grpc
