// Serializer: writes HTTP/1.1 messages (requests upstream, responses downstream) one at a time:
// head, body pieces, end. It owns the framing: the caller says how the body is delimited
// (BodyFraming) and the serializer writes Content-Length or Transfer-Encoding itself, chunk-
// encodes, and refuses a body longer or shorter than declared, so nothing it writes can be
// read two ways by the next hop. Field names must be tokens and values free of CR, LF, NUL and
// other control bytes; anything else is an error naming the field, never silently repaired.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/http1/message_head.h"

namespace warren::http1 {

struct BodyFraming {
  // kNone: no body. kLength: exactly `length` bytes. kChunked: any number of body() calls,
  // then end() with optional trailers. kUntilClose (responses only, e.g. to an HTTP/1.0 client
  // when the length is unknown): raw bytes, "Connection: close" is added, and the caller closes.
  BodyKind kind = BodyKind::kNone;
  uint64_t length = 0;
  // false: the framing field is written but no body follows (a response to HEAD, a 304).
  bool body_follows = true;

  static BodyFraming none() { return {}; }
  static BodyFraming contentLength(uint64_t n) { return {BodyKind::kLength, n, true}; }
  static BodyFraming chunked() { return {BodyKind::kChunked, 0, true}; }
  static BodyFraming untilClose() { return {BodyKind::kUntilClose, 0, true}; }
  // The fields a response to HEAD would carry for a body of `n` bytes, without the body.
  static BodyFraming headResponse(uint64_t n) { return {BodyKind::kLength, n, false}; }
};

class Serializer {
 public:
  // Appends "method SP target SP HTTP/1.1", the fields, the framing field and the blank line.
  // `headers` must hold exactly one Host and no Content-Length / Transfer-Encoding.
  Status requestHead(std::string& out, std::string_view method, std::string_view target,
                     std::span<const HeaderField> headers, BodyFraming framing);
  // Appends "HTTP/1.1 status reason" and the fields. An interim status (1xx but 101) takes
  // BodyFraming::none() and leaves the serializer ready for the final head.
  Status responseHead(std::string& out, int status, std::string_view reason,
                      std::span<const HeaderField> headers, BodyFraming framing);
  // Appends body bytes (chunk-encoded when chunked; nothing for an empty piece).
  Status body(std::string& out, std::string_view data);
  // Ends the message: the last chunk and trailers when chunked (trailers only then).
  Status end(std::string& out, std::span<const HeaderField> trailers = {});

  // The interim answer to "Expect: 100-continue".
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

  // A head was written and end() not yet called.
  bool inMessage() const { return in_message_; }

 private:
  Status startMessage(const BodyFraming& framing);
  Status appendFields(std::string& out, std::span<const HeaderField> fields, bool trailers);
  void appendFraming(std::string& out);

  bool in_message_ = false;
  BodyFraming framing_;
  uint64_t written_ = 0;
};

}  // namespace warren::http1
