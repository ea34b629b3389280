// common/grpc: framing (whole, split at every byte, bounded, compressed flag), grpc-status,
// grpc-message percent-encoding, grpc-timeout, the HTTP → gRPC status table.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/grpc/message_framer.h"
#include "common/grpc/status.h"
#include "common/grpc/timeout.h"

namespace warren::grpc {
namespace {

using namespace std::chrono_literals;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> framed(const std::vector<std::string>& messages) {
  std::vector<uint8_t> out;
  for (const auto& m : messages) appendMessage(out, bytes(m));
  return out;
}

struct Collected {
  std::vector<std::string> messages;
  MessageReader::OnMessage sink() {
    return [this](std::span<const uint8_t> m, bool) { messages.emplace_back(m.begin(), m.end()); };
  }
};

TEST(GrpcFramer, EncodesThePrefix) {
  std::vector<uint8_t> out;
  appendMessage(out, bytes("hi"));
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 0, 0, 0, 2, 'h', 'i'}));
  out.clear();
  appendMessage(out, std::vector<uint8_t>(0x010203, 'x'));
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 5),
            (std::vector<uint8_t>{0, 0x00, 0x01, 0x02, 0x03}));
}

TEST(GrpcFramer, MessagesSurviveEverySplitPoint) {
  const std::vector<std::string> want = {"first", "", std::string(300, 'z'), "last"};
  auto wire = framed(want);
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    SCOPED_TRACE(cut);
    MessageReader r;
    Collected c;
    ASSERT_TRUE(r.feed(std::span(wire).first(cut), c.sink()).has_value());
    ASSERT_TRUE(r.feed(std::span(wire).subspan(cut), c.sink()).has_value());
    EXPECT_EQ(c.messages, want);
    EXPECT_EQ(r.bufferedBytes(), 0u);
    EXPECT_TRUE(r.finish().has_value());
  }
  // Byte by byte.
  MessageReader r;
  Collected c;
  for (uint8_t b : wire) ASSERT_TRUE(r.feed(std::span(&b, 1), c.sink()).has_value());
  EXPECT_EQ(c.messages, want);
  EXPECT_EQ(r.messagesRead(), 4u);
}

TEST(GrpcFramer, TooLargeIsResourceExhaustedBeforeBuffering) {
  MessageReader r(1024);
  Collected c;
  auto wire = framed({std::string(1024, 'a'), std::string(1025, 'b')});
  // Only the prefix of the second message arrives: refused at once, nothing buffered for it.
  auto res = r.feed(std::span(wire).first(5 + 1024 + 5), c.sink());
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().status, GrpcStatus::kResourceExhausted);
  EXPECT_EQ(res.error().message, "grpc: received message larger than max (1025 vs. 1024)");
  EXPECT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(r.bufferedBytes(), 5u);
  EXPECT_FALSE(r.feed(bytes("x"), c.sink()).has_value());  // the stream is over
}

TEST(GrpcFramer, CompressedFlagRefusedUnlessAccepted) {
  std::vector<uint8_t> wire = {1, 0, 0, 0, 1, 'z'};
  MessageReader strict;
  Collected c;
  auto res = strict.feed(wire, c.sink());
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().status, GrpcStatus::kInternal);
  EXPECT_NE(res.error().message.find("compressed message"), std::string::npos);
  EXPECT_TRUE(c.messages.empty());

  MessageReader lenient(kDefaultMaxMessageBytes, /*accept_compressed=*/true);
  bool flag = false;
  ASSERT_TRUE(lenient.feed(wire, [&](std::span<const uint8_t>, bool f) { flag = f; }).has_value());
  EXPECT_TRUE(flag);

  MessageReader reserved;
  res = reserved.feed(std::vector<uint8_t>{2, 0, 0, 0, 0}, c.sink());
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().message, "grpc: message flag 0x02 is neither 0 nor 1");
}

TEST(GrpcFramer, EndInsideAMessageIsAnError) {
  MessageReader r;
  Collected c;
  auto wire = framed({"abcdef"});
  ASSERT_TRUE(r.feed(std::span(wire).first(8), c.sink()).has_value());
  auto res = r.finish();
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().status, GrpcStatus::kInternal);
  EXPECT_EQ(res.error().message, "grpc: stream ended inside a message (8 of 11 bytes)");
  MessageReader r2;
  ASSERT_TRUE(r2.feed(std::span(wire).first(3), c.sink()).has_value());
  EXPECT_EQ(r2.finish().error().message, "grpc: stream ended inside a message (3 of 5 bytes)");
}

TEST(GrpcStatusCodes, ParseAndName) {
  EXPECT_EQ(parseStatus("0").value(), GrpcStatus::kOk);
  EXPECT_EQ(parseStatus("14").value(), GrpcStatus::kUnavailable);
  EXPECT_EQ(parseStatus("16").value(), GrpcStatus::kUnauthenticated);
  EXPECT_EQ(parseStatus("17").value(), GrpcStatus::kUnknown);  // unknown codes are UNKNOWN
  EXPECT_EQ(parseStatus("99999999999999999999").error().message(),
            "grpc-status '99999999999999999999' is not a decimal number");
  for (const char* bad : {"", "-1", "1a", " 1", "0x1"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parseStatus(bad).has_value());
  }
  EXPECT_STREQ(statusName(GrpcStatus::kOk), "OK");
  EXPECT_STREQ(statusName(GrpcStatus::kDeadlineExceeded), "DEADLINE_EXCEEDED");
  EXPECT_STREQ(statusName(GrpcStatus::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(formatStatus(GrpcStatus::kUnimplemented), "12");
}

TEST(GrpcStatusCodes, HttpStatusMapping) {
  const std::vector<std::pair<int, GrpcStatus>> table = {
      {400, GrpcStatus::kInternal},         {401, GrpcStatus::kUnauthenticated},
      {403, GrpcStatus::kPermissionDenied}, {404, GrpcStatus::kUnimplemented},
      {429, GrpcStatus::kUnavailable},      {502, GrpcStatus::kUnavailable},
      {503, GrpcStatus::kUnavailable},      {504, GrpcStatus::kUnavailable},
      {200, GrpcStatus::kUnknown},          {405, GrpcStatus::kUnknown},
      {500, GrpcStatus::kUnknown},          {301, GrpcStatus::kUnknown},
  };
  for (auto [http, want] : table) {
    SCOPED_TRACE(http);
    EXPECT_EQ(statusFromHttp(http), want);
  }
}

TEST(GrpcStatusCodes, MessagePercentEncoding) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"plain text, no escapes", "plain text, no escapes"},
      {"100% sure", "100%25 sure"},
      {"line\nbreak\ttab", "line%0Abreak%09tab"},
      {"caf\xc3\xa9 \xe2\x9c\x93", "caf%C3%A9 %E2%9C%93"},  // UTF-8 bytes
      {"~ and \x7f", "~ and %7F"},
      {"", ""},
  };
  for (const auto& [text, wire] : table) {
    SCOPED_TRACE(text);
    EXPECT_EQ(encodeMessage(text), wire);
    EXPECT_EQ(decodeMessage(wire), text);
  }
  // Lenient decoding: bad escapes stay as they are, lower-case hex is accepted.
  EXPECT_EQ(decodeMessage("50% off %zz %4"), "50% off %zz %4");
  EXPECT_EQ(decodeMessage("%c3%a9"), "\xc3\xa9");
}

TEST(GrpcTimeout, ParseTable) {
  const std::vector<std::pair<std::string, std::chrono::nanoseconds>> good = {
      {"1H", 1h},
      {"2M", 2min},
      {"30S", 30s},
      {"250m", 250ms},
      {"10u", 10us},
      {"7n", 7ns},
      {"99999999S", 99'999'999s},
      {"0m", 0ns},
      {"00000001S", 1s},
  };
  for (const auto& [text, want] : good) {
    SCOPED_TRACE(text);
    ASSERT_TRUE(parseTimeout(text).has_value()) << parseTimeout(text).error().message();
    EXPECT_EQ(parseTimeout(text).value(), want);
  }
  // 99999999 hours does not fit int64 nanoseconds: saturates.
  EXPECT_EQ(parseTimeout("99999999H").value().count(), INT64_MAX);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "needs digits and a unit"},           {"S", "needs digits and a unit"},
      {"100", "unit is not one of H M S m u n"}, {"5s", "unit is not one of H M S m u n"},
      {"123456789S", "has more than 8 digits"},  {"-5S", "value is not a decimal number"},
      {"1.5S", "value is not a decimal number"},
  };
  for (const auto& [text, why] : bad) {
    SCOPED_TRACE(text);
    auto r = parseTimeout(text);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  }
}

TEST(GrpcTimeout, FormatPicksTheFinestUnitAndRoundsUp) {
  EXPECT_EQ(formatTimeout(250ms), "250000u");  // 250000000n would be 9 digits
  EXPECT_EQ(formatTimeout(99ms), "99000000n");
  EXPECT_EQ(formatTimeout(2s), "2000000u");
  EXPECT_EQ(formatTimeout(100s), "100000m");
  EXPECT_EQ(formatTimeout(std::chrono::nanoseconds(100'000'000'001)), "100001m");  // rounded up
  EXPECT_EQ(formatTimeout(std::chrono::hours(24 * 365)), "31536000S");
  EXPECT_EQ(formatTimeout(0ns), "0n");
  EXPECT_EQ(formatTimeout(-5s), "0n");
  for (std::chrono::nanoseconds d : std::vector<std::chrono::nanoseconds>{
           1ns, 999ms, 3s, 5min, 90min, std::chrono::nanoseconds(123'456'789'123)}) {
    auto back = parseTimeout(formatTimeout(d)).value();
    EXPECT_GE(back, d);
    EXPECT_LE(back - d, d / 100'000 + 1ns);  // at least 5 significant digits kept
  }
}

}  // namespace
}  // namespace warren::grpc
