// Header fields as the engine hands them over: pseudo-headers (":method", ":authority",
// ":status") first, in wire order, names lower-case as HTTP/2 requires.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace warren::http2 {

// HTTP/2 stream identifier (31 bits; odd = client-initiated).
using StreamId = int32_t;

struct Header {
  std::string name;
  std::string value;
  bool operator==(const Header&) const = default;
};

using HeaderList = std::vector<Header>;

// The value of the first field called `name`, or nullptr. Linear: header lists here are short.
inline const std::string* findHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

// Whether a HEADERS frame we send is followed by DATA (then END_STREAM via closeWrite() or
// trailers via sendTrailers()), or ends our side of the stream itself (END_STREAM on HEADERS:
// a GET, a 204, a gRPC trailers-only response).
enum class Body : uint8_t { kFollows, kNone };

// HTTP/2 error codes (RFC 9113 section 7) the engine's users pass or receive.
enum H2ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kStreamClosed = 0x5,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kConnectError = 0xa,
  kEnhanceYourCalm = 0xb,
};

}  // namespace warren::http2
