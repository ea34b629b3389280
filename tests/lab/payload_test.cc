#include "lab/probe/payload.h"

#include <gtest/gtest.h>

#include <vector>

namespace warren::probe {
namespace {

TEST(PayloadTest, AnyOffsetMatchesTheWholeStream) {
  std::vector<uint8_t> whole(1000);
  fillPayload(0, whole.data(), whole.size());
  for (size_t off : {0u, 1u, 7u, 8u, 9u, 333u, 999u}) {
    std::vector<uint8_t> part(whole.size() - off);
    fillPayload(off, part.data(), part.size());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + static_cast<long>(off))) << off;
  }
  // Not a trivial pattern.
  EXPECT_NE(whole[0], whole[1]);
  EXPECT_NE(std::vector<uint8_t>(whole.begin(), whole.begin() + 8),
            std::vector<uint8_t>(whole.begin() + 8, whole.begin() + 16));
}

TEST(PayloadTest, FirstMismatch) {
  std::vector<uint8_t> data(10000);
  fillPayload(100, data.data(), data.size());
  EXPECT_EQ(firstMismatch(100, data.data(), data.size()), data.size());
  data[5000] ^= 1;
  EXPECT_EQ(firstMismatch(100, data.data(), data.size()), 5000u);
  EXPECT_EQ(firstMismatch(101, data.data(), data.size()), 0u);
}

TEST(Sha256Test, KnownVector) {
  Sha256 s;
  s.update("ab", 2);
  s.update("c", 1);
  EXPECT_EQ(s.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace warren::probe
