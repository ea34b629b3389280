#include "common/hex.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace warren {
namespace {

TEST(Hex, DigitValues) {
  EXPECT_EQ(hexDigitValue('0'), 0);
  EXPECT_EQ(hexDigitValue('9'), 9);
  EXPECT_EQ(hexDigitValue('a'), 10);
  EXPECT_EQ(hexDigitValue('F'), 15);
  EXPECT_EQ(hexDigitValue('g'), -1);
  EXPECT_EQ(hexDigitValue('%'), -1);
}

TEST(Hex, EncodesLowerCaseAndDecodesBack) {
  const std::array<uint8_t, 5> bytes{0x00, 0x0f, 0xa5, 0xff, 0x10};
  EXPECT_EQ(encodeHex(bytes), "000fa5ff10");
  EXPECT_EQ(encodeHex(std::span<const uint8_t>()), "");
  std::array<uint8_t, 5> back{};
  ASSERT_TRUE(decodeHex("000fa5ff10", back));
  EXPECT_EQ(back, bytes);
  ASSERT_TRUE(decodeHex("000FA5FF10", back));  // either case by default
  EXPECT_EQ(back, bytes);
}

TEST(Hex, DecodesExactlyTheSizeAsked) {
  std::vector<uint8_t> out(2);
  EXPECT_FALSE(decodeHex("abc", out));     // odd
  EXPECT_FALSE(decodeHex("ab", out));      // short
  EXPECT_FALSE(decodeHex("abcdef", out));  // long
  EXPECT_TRUE(decodeHex("abcd", out));
  EXPECT_TRUE(decodeHex("", std::span<uint8_t>()));
}

TEST(Hex, RefusesWhatIsNotADigit) {
  std::array<uint8_t, 2> out{};
  EXPECT_FALSE(decodeHex("ab g", out));
  EXPECT_FALSE(decodeHex("0x12", out));
  EXPECT_FALSE(decodeHex("-1ab", out));
}

TEST(Hex, LowerCaseOnlyWhenAsked) {
  std::array<uint8_t, 2> out{};
  EXPECT_TRUE(decodeHex("abcd", out, HexDigits::kLowerCase));
  EXPECT_FALSE(decodeHex("abCd", out, HexDigits::kLowerCase));
  EXPECT_TRUE(decodeHex("abCd", out, HexDigits::kAnyCase));
  EXPECT_EQ(out[1], 0xcd);
}

}  // namespace
}  // namespace warren
