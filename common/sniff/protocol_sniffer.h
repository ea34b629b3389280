// Which protocol a plaintext TCP stream speaks, from its first bytes (what the waypoint does for
// a Service port whose protocol is not declared, as Istio's protocol sniffing and Envoy's
// http_inspector / tls_inspector do). Pure: the caller accumulates the first bytes it has read
// (at most kMaxSniffBytes) and asks again after every read while the answer is kNeedMoreBytes.
//
// A protocol in which the server speaks first (SMTP, MySQL...) sends nothing until answered:
// the caller must also bound the wait with a timer and treat the silence as opaque TCP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace warren::sniff {

enum class SniffedProtocol {
  kNeedMoreBytes,  // the bytes so far fit more than one answer, or are too few for any
  kHttp2,          // the HTTP/2 connection preface (prior knowledge, h2c): RFC 9113 §3.4
  kHttp1,          // an HTTP/1.x request line: method SP request-target SP HTTP/1.x CRLF
  kTls,            // a TLS record carrying a ClientHello (RFC 8446 §5.1, §4.1.2)
  kOpaque,         // anything else: plain TCP
};

const char* sniffedProtocolName(SniffedProtocol p);

// The bound on what a caller reads before deciding: past it, a stream still undecided is
// opaque. 8 KiB, like Envoy's http_inspector: a request line longer than that is not worth
// treating as HTTP (most servers refuse request lines well before 8 KiB).
inline constexpr size_t kMaxSniffBytes = 8u << 10;

// Classifies the first bytes of a stream. Monotonic: once the answer is not kNeedMoreBytes,
// more bytes never change it. With kMaxSniffBytes or more bytes it is never kNeedMoreBytes.
SniffedProtocol sniffProtocol(std::span<const uint8_t> first_bytes);

}  // namespace warren::sniff
