#include "common/sniff/protocol_sniffer.h"

#include <algorithm>
#include <string_view>

#include "common/http1/syntax.h"

namespace warren::sniff {
namespace {

namespace syntax = http1::syntax;

enum class Verdict { kYes, kNo, kMaybe };

// RFC 9113 §3.4: the client connection preface.
constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

Verdict http2(std::span<const uint8_t> b) {
  size_t n = std::min(b.size(), kHttp2Preface.size());
  if (!std::equal(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n), kHttp2Preface.begin())) {
    return Verdict::kNo;
  }
  return n == kHttp2Preface.size() ? Verdict::kYes : Verdict::kMaybe;
}

// A TLS record header (type 22 = handshake, legacy version 3.x with x ≤ 4, a length a
// ClientHello can have) followed by the handshake type 1 = ClientHello.
Verdict tls(std::span<const uint8_t> b) {
  constexpr uint8_t kHandshake = 22, kClientHello = 1;
  // RFC 8446 §5.1: a record is at most 2^14 bytes of plaintext; a ClientHello needs at least
  // its 4-byte handshake header.
  constexpr size_t kMaxRecord = 1u << 14, kMinHello = 4;
  if (b.size() >= 1 && b[0] != kHandshake) return Verdict::kNo;
  if (b.size() >= 2 && b[1] != 3) return Verdict::kNo;
  if (b.size() >= 3 && b[2] > 4) return Verdict::kNo;
  if (b.size() >= 5) {
    size_t len = (size_t{b[3]} << 8) | b[4];
    if (len < kMinHello || len > kMaxRecord) return Verdict::kNo;
  }
  if (b.size() >= 6) return b[5] == kClientHello ? Verdict::kYes : Verdict::kNo;
  return Verdict::kMaybe;
}

// method SP request-target SP "HTTP/1." DIGIT (CRLF or LF, RFC 9112 §2.2 lets a recipient
// accept a bare LF). The method is a token of at most kMaxMethod bytes; the target is visible
// ASCII (or obs-text) up to the bound.
Verdict http1(std::span<const uint8_t> b) {
  constexpr size_t kMaxMethod = 32;  // longer than any registered method (UPDATEREDIRECTREF, 17)
  size_t i = 0;
  while (i < b.size() && syntax::isTokenChar(b[i])) {
    if (++i > kMaxMethod) return Verdict::kNo;
  }
  if (i == b.size()) return Verdict::kMaybe;
  if (i == 0 || b[i] != ' ') return Verdict::kNo;
  size_t target = ++i;
  while (i < b.size() && (syntax::isVisible(b[i]) || b[i] >= 0x80)) ++i;
  if (i == b.size()) return Verdict::kMaybe;
  if (i == target || b[i] != ' ') return Verdict::kNo;
  ++i;
  constexpr std::string_view kVersion = "HTTP/1.";
  for (char c : kVersion) {
    if (i == b.size()) return Verdict::kMaybe;
    if (b[i++] != static_cast<uint8_t>(c)) return Verdict::kNo;
  }
  if (i == b.size()) return Verdict::kMaybe;
  if (!syntax::isDigit(b[i++])) return Verdict::kNo;
  if (i == b.size()) return Verdict::kMaybe;
  if (b[i] == '\n') return Verdict::kYes;
  if (b[i++] != '\r') return Verdict::kNo;
  if (i == b.size()) return Verdict::kMaybe;
  return b[i] == '\n' ? Verdict::kYes : Verdict::kNo;
}

}  // namespace

const char* sniffedProtocolName(SniffedProtocol p) {
  switch (p) {
    case SniffedProtocol::kNeedMoreBytes:
      return "need-more-bytes";
    case SniffedProtocol::kHttp2:
      return "http2";
    case SniffedProtocol::kHttp1:
      return "http1";
    case SniffedProtocol::kTls:
      return "tls";
    case SniffedProtocol::kOpaque:
      return "opaque";
  }
  return "opaque";
}

SniffedProtocol sniffProtocol(std::span<const uint8_t> first_bytes) {
  auto b = first_bytes.first(std::min(first_bytes.size(), kMaxSniffBytes));
  if (b.empty()) return SniffedProtocol::kNeedMoreBytes;
  // The preface is checked first: its first line is also a well-formed HTTP/1 request line
  // (PRI * HTTP/2.0 is not HTTP/1.x, but "PRI * HTTP/1.1" must not be mistaken for h2).
  Verdict h2 = http2(b), t = tls(b), h1 = http1(b);
  if (h2 == Verdict::kYes) return SniffedProtocol::kHttp2;
  if (t == Verdict::kYes) return SniffedProtocol::kTls;
  if (h1 == Verdict::kYes && h2 == Verdict::kNo) return SniffedProtocol::kHttp1;
  bool undecided = h2 == Verdict::kMaybe || t == Verdict::kMaybe || h1 == Verdict::kMaybe;
  if (undecided && b.size() < kMaxSniffBytes) return SniffedProtocol::kNeedMoreBytes;
  return SniffedProtocol::kOpaque;
}

}  // namespace warren::sniff
