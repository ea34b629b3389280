// sniffProtocol: one row per kind of stream start, each also fed as every prefix (split reads):
// shorter prefixes say "need more bytes" until the deciding byte, and the answer never changes
// after it.
#include "common/sniff/protocol_sniffer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace warren::sniff {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

SniffedProtocol sniff(const std::string& s) { return sniffProtocol(bytes(s)); }

// A ClientHello's first bytes: record header (handshake, TLS 1.0 record version, length 512),
// handshake type ClientHello, its 3-byte length, legacy_version 3.3.
const std::string kClientHello = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);

struct Row {
  const char* name;
  std::string input;
  SniffedProtocol want;
  size_t decided_at;  // length of the shortest prefix with the final answer
};

TEST(ProtocolSniffer, TableAndEverySplit) {
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const std::vector<Row> rows = {
      {"h2c prior knowledge", preface + std::string("\x00\x00\x12\x04", 4), SniffedProtocol::kHttp2,
       24},
      {"GET", "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", SniffedProtocol::kHttp1, 26},
      {"POST HTTP/1.0", "POST /api?x=1 HTTP/1.0\r\n", SniffedProtocol::kHttp1, 24},
      {"extension method, bare LF", "PURGE * HTTP/1.1\n", SniffedProtocol::kHttp1, 17},
      {"absolute-form", "GET http://a.test/x HTTP/1.1\r\n", SniffedProtocol::kHttp1, 30},
      {"PRI as HTTP/1.1 is not the preface", "PRI * HTTP/1.1\r\n", SniffedProtocol::kHttp1, 16},
      {"TLS ClientHello", kClientHello, SniffedProtocol::kTls, 6},
      {"TLS 1.3 record version", std::string("\x16\x03\x03\x00\x50\x01", 6), SniffedProtocol::kTls,
       6},
      {"TLS handshake but not a ClientHello", std::string("\x16\x03\x03\x00\x50\x02", 6),
       SniffedProtocol::kOpaque, 6},
      {"TLS record too long", std::string("\x16\x03\x01\x50\x00\x01", 6), SniffedProtocol::kOpaque,
       5},
      {"SSH banner (token chars, then CR)", "SSH-2.0-OpenSSH_9.2\r\n", SniffedProtocol::kOpaque,
       20},
      {"binary", std::string("\x00\x01\x02\x03", 4), SniffedProtocol::kOpaque, 1},
      {"lower-case version", "GET / http/1.1\r\n", SniffedProtocol::kOpaque, 7},
      {"HTTP/2.0 request line", "GET / HTTP/2.0\r\n", SniffedProtocol::kOpaque, 12},
      {"space before method", " GET / HTTP/1.1\r\n", SniffedProtocol::kOpaque, 1},
      {"two spaces", "GET  / HTTP/1.1\r\n", SniffedProtocol::kOpaque, 5},
      {"CR without LF", "GET / HTTP/1.1\rX", SniffedProtocol::kOpaque, 16},
      {"Redis inline command", "PING\r\n", SniffedProtocol::kOpaque, 5},
      {"method too long", std::string(40, 'A') + " / HTTP/1.1\r\n", SniffedProtocol::kOpaque, 33},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(sniff(r.input), r.want) << sniffedProtocolName(sniff(r.input));
    for (size_t n = 0; n <= r.input.size(); ++n) {
      SCOPED_TRACE(n);
      SniffedProtocol got = sniffProtocol(bytes(r.input).first(n));
      if (n < r.decided_at) {
        EXPECT_EQ(got, SniffedProtocol::kNeedMoreBytes) << sniffedProtocolName(got);
      } else {
        EXPECT_EQ(got, r.want) << sniffedProtocolName(got);
      }
    }
  }
}

TEST(ProtocolSniffer, UndecidedAtTheBoundIsOpaque) {
  std::string long_target = "GET /" + std::string(kMaxSniffBytes, 'a');
  EXPECT_EQ(sniffProtocol(bytes(long_target).first(kMaxSniffBytes - 1)),
            SniffedProtocol::kNeedMoreBytes);
  EXPECT_EQ(sniff(long_target), SniffedProtocol::kOpaque);
  // Bytes past the bound are never looked at: the same request line completed later is still
  // opaque, so the answer cannot change.
  EXPECT_EQ(sniff(long_target + " HTTP/1.1\r\n"), SniffedProtocol::kOpaque);
  // A request line just inside the bound is HTTP.
  std::string fits = "GET /" + std::string(kMaxSniffBytes - 20, 'a') + " HTTP/1.1\r\n";
  ASSERT_LE(fits.size(), kMaxSniffBytes);
  EXPECT_EQ(sniff(fits), SniffedProtocol::kHttp1);
}

TEST(ProtocolSniffer, NothingYetNeedsMore) {
  EXPECT_EQ(sniffProtocol({}), SniffedProtocol::kNeedMoreBytes);
  EXPECT_STREQ(sniffedProtocolName(SniffedProtocol::kHttp2), "http2");
  EXPECT_STREQ(sniffedProtocolName(SniffedProtocol::kOpaque), "opaque");
}

}  // namespace
}  // namespace warren::sniff
