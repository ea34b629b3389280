#include "common/percent_encoding.h"

#include <gtest/gtest.h>

namespace warren {
namespace {

TEST(PercentEncoding, KeepsOnlyWhatTheCallerNames) {
  EXPECT_EQ(percentEncode("a b/c?d=e&f~g", isUriUnreserved), "a%20b%2Fc%3Fd%3De%26f~g");
  EXPECT_EQ(percentEncode("\xc3\xa9%", isUriUnreserved), "%C3%A9%25");
  auto keep_all_but_percent = [](unsigned char c) { return c != '%'; };
  EXPECT_EQ(percentEncode("50% off", keep_all_but_percent), "50%25 off");
  EXPECT_EQ(percentEncode("", isUriUnreserved), "");
}

TEST(PercentEncoding, LenientDecodeKeepsMalformedEscapes) {
  EXPECT_EQ(percentDecodeLenient("%c3%A9"), "\xc3\xa9");
  EXPECT_EQ(percentDecodeLenient("50%25 off"), "50% off");
  EXPECT_EQ(percentDecodeLenient("50% off %zz %4"), "50% off %zz %4");
  EXPECT_EQ(percentDecodeLenient("%"), "%");
  EXPECT_EQ(percentDecodeLenient("%4"), "%4");
  EXPECT_EQ(percentDecodeLenient("%41%"), "A%");
}

TEST(PercentEncoding, RoundTrips) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(percentDecodeLenient(percentEncode(all, isUriUnreserved)), all);
}

}  // namespace
}  // namespace warren
