// A tiny HTTP/2 frame builder and reader for feeding hand-made (and hostile) frames to a
// Session. HPACK encoding is literal-without-indexing only (RFC 7541 6.2.2), enough for tests;
// decoding the engine's answers uses nghttp2's standalone HPACK inflater.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http2/session.h"

namespace warren::http2::testing {

using Bytes = std::vector<uint8_t>;

enum FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};
enum Flags : uint8_t { kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4 };

inline void append(Bytes& out, const Bytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

inline Bytes frame(uint8_t type, uint8_t flags, uint32_t stream, const Bytes& payload = {}) {
  Bytes f;
  size_t n = payload.size();
  f.push_back(static_cast<uint8_t>(n >> 16));
  f.push_back(static_cast<uint8_t>(n >> 8));
  f.push_back(static_cast<uint8_t>(n));
  f.push_back(type);
  f.push_back(flags);
  f.push_back(static_cast<uint8_t>((stream >> 24) & 0x7f));
  f.push_back(static_cast<uint8_t>(stream >> 16));
  f.push_back(static_cast<uint8_t>(stream >> 8));
  f.push_back(static_cast<uint8_t>(stream));
  append(f, payload);
  return f;
}

inline Bytes u32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

// Client connection preface plus an empty SETTINGS frame.
inline Bytes clientPreface() {
  std::string_view magic = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  Bytes b(magic.begin(), magic.end());
  append(b, frame(kSettings, 0, 0));
  return b;
}

// RFC 7541 5.1 integer with an N-bit prefix; `first` carries the pattern bits.
inline void hpackInt(Bytes& out, uint8_t first, int prefix_bits, size_t value) {
  size_t max = (1u << prefix_bits) - 1;
  if (value < max) {
    out.push_back(static_cast<uint8_t>(first | value));
    return;
  }
  out.push_back(static_cast<uint8_t>(first | max));
  value -= max;
  while (value >= 128) {
    out.push_back(static_cast<uint8_t>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}

inline Bytes hpack(const std::vector<std::pair<std::string, std::string>>& headers) {
  Bytes out;
  for (const auto& [name, value] : headers) {
    out.push_back(0x00);  // literal without indexing, new name
    hpackInt(out, 0x00, 7, name.size());
    out.insert(out.end(), name.begin(), name.end());
    hpackInt(out, 0x00, 7, value.size());
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

inline Bytes headersFrame(uint32_t stream,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          uint8_t flags = kEndHeaders) {
  return frame(kHeaders, flags, stream, hpack(headers));
}

inline Bytes connectFrame(uint32_t stream, const std::string& authority = "10.0.0.2:8080") {
  return headersFrame(stream, {{":method", "CONNECT"}, {":authority", authority}});
}

struct Frame {
  uint8_t type;
  uint8_t flags;
  uint32_t stream;
  Bytes payload;
  uint32_t errorCode() const {  // RST_STREAM, or GOAWAY's error after the last stream id
    size_t at = type == kGoAway ? 4 : 0;
    return (uint32_t{payload[at]} << 24) | (uint32_t{payload[at + 1]} << 16) |
           (uint32_t{payload[at + 2]} << 8) | payload[at + 3];
  }
};

// Splits a server's output into frames (no client magic expected).
inline std::vector<Frame> parseFrames(const Bytes& wire) {
  std::vector<Frame> frames;
  size_t i = 0;
  while (i + 9 <= wire.size()) {
    size_t len = (size_t{wire[i]} << 16) | (size_t{wire[i + 1]} << 8) | wire[i + 2];
    if (i + 9 + len > wire.size()) break;
    Frame f{wire[i + 3], wire[i + 4],
            ((uint32_t{wire[i + 5]} & 0x7f) << 24) | (uint32_t{wire[i + 6]} << 16) |
                (uint32_t{wire[i + 7]} << 8) | wire[i + 8],
            Bytes(wire.begin() + static_cast<std::ptrdiff_t>(i + 9),
                  wire.begin() + static_cast<std::ptrdiff_t>(i + 9 + len))};
    frames.push_back(std::move(f));
    i += 9 + len;
  }
  return frames;
}

// Decodes HEADERS blocks in wire order (one inflater per connection, as HPACK requires).
class HeaderDecoder {
 public:
  HeaderDecoder() { nghttp2_hd_inflate_new(&inflater_); }
  ~HeaderDecoder() { nghttp2_hd_inflate_del(inflater_); }
  HeaderDecoder(const HeaderDecoder&) = delete;
  HeaderDecoder& operator=(const HeaderDecoder&) = delete;

  std::vector<std::pair<std::string, std::string>> decode(const Bytes& block) {
    std::vector<std::pair<std::string, std::string>> out;
    const uint8_t* in = block.data();
    size_t left = block.size();
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      ssize_t n = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, 1);
      if (n < 0) return out;
      in += n;
      left -= static_cast<size_t>(n);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        out.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                         std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inflater_);
        return out;
      }
      if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) return out;
    }
  }

 private:
  nghttp2_hd_inflater* inflater_ = nullptr;
};

// The :status of every response HEADERS in `frames`, keyed by stream.
inline std::vector<std::pair<uint32_t, std::string>> responseStatuses(
    HeaderDecoder& decoder, const std::vector<Frame>& frames) {
  std::vector<std::pair<uint32_t, std::string>> out;
  for (const auto& f : frames) {
    if (f.type != kHeaders) continue;
    for (auto& [name, value] : decoder.decode(f.payload)) {
      if (name == ":status") out.emplace_back(f.stream, value);
    }
  }
  return out;
}

// What a server session answered to one raw request (HEADERS on stream 1 after the client
// preface): the frames it wrote, the :status of each response, and whether it reset the
// stream with PROTOCOL_ERROR (a request malformed for HTTP/2 itself).
struct RawAnswer {
  bool dispatched = false;
  std::vector<Frame> frames;
  std::vector<std::pair<uint32_t, std::string>> statuses;
  bool protocol_error_reset = false;
};

inline RawAnswer sendRawRequest(Session& server,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  RawAnswer a;
  Bytes b = clientPreface();
  append(b, headersFrame(1, headers));
  a.dispatched = server.dispatch(b).has_value();
  Bytes wire;
  for (auto out = server.pendingOutput(); !out.empty(); out = server.pendingOutput()) {
    wire.insert(wire.end(), out.begin(), out.end());
    server.drainOutput(out.size());
  }
  a.frames = parseFrames(wire);
  HeaderDecoder decoder;
  a.statuses = responseStatuses(decoder, a.frames);
  for (const auto& f : a.frames) {
    if (f.type == kRstStream && f.errorCode() == kProtocolError) a.protocol_error_reset = true;
  }
  return a;
}

}  // namespace warren::http2::testing
