// Why the HTTP/1 parser stopped. Each RFC 9112 rule the parser enforces has its own code, so
// tests pin the exact rule and callers pick the answer: statusFor() gives the status a server
// sends for a bad request, or a proxy sends downstream for a bad upstream response (502).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace warren::http1 {

enum class ParseError {
  // Framing of lines.
  kBareLf,  // a line ended in LF without CR (RFC 9112 §2.2: the smuggling-safe choice is to reject)
  // Start line.
  kInvalidRequestLine,  // not "method SP target SP version"
  kInvalidMethod,       // method is not a token
  kInvalidTarget,       // bytes outside VCHAR, a fragment, or no valid form for the method
  kInvalidVersion,      // not "HTTP/" DIGIT "." DIGIT
  kUnsupportedVersion,  // HTTP/0.x, HTTP/2+ over this codec
  kRequestLineTooLong,
  kInvalidStatusLine,
  kStatusLineTooLong,
  kConnectNotSupported,  // CONNECT opens a tunnel: not this codec's job
  // Header section.
  kObsFold,                // a field line starting with whitespace (line folding)
  kInvalidHeaderName,      // empty, not a token, or no colon
  kWhitespaceBeforeColon,  // "Name : value"
  kInvalidHeaderValue,     // NUL, CR, LF or another control byte in a value
  kTooManyHeaders,
  kHeadersTooLarge,
  kMissingHost,    // HTTP/1.1 request without Host
  kDuplicateHost,  // more than one Host
  kInvalidHost,
  kUnsupportedExpectation,  // Expect other than 100-continue
  // Body framing.
  kInvalidContentLength,
  kDuplicateContentLength,  // two Content-Length fields, or a list value ("5, 5")
  kContentLengthWithTransferEncoding,
  kTransferEncodingNotChunked,  // the final coding is not chunked
  kUnsupportedTransferCoding,   // a coding other than chunked (or chunked twice)
  kTransferEncodingInHttp10,
  kInvalidChunkSize,
  kChunkSizeOverflow,
  kInvalidChunkExtension,
  kChunkLineTooLong,
  kInvalidChunkTerminator,  // chunk data not followed by CRLF
  kBodyTooLarge,
  // Message sequence.
  kUnexpectedUpgrade,    // a 101 response: we never ask to switch protocols
  kUnsolicitedResponse,  // a response with no request outstanding
  kIncompleteMessage,    // the input ended inside a message
};

enum class Role { kRequest, kResponse };

// "bare_lf", "duplicate_content_length", ... (stable names for logs and tests).
const char* parseErrorName(ParseError e);

// The status to answer: for a request, what the server sends back (400, 413, 414, 417, 431,
// 501, 505); for a response, 502 (the upstream broke the protocol).
int statusFor(ParseError e, Role role);

struct ParseFailure {
  ParseError error;
  Role role;
  std::string detail;  // what exactly, e.g. "Content-Length given twice (5 and 6)"

  int status() const { return statusFor(error, role); }
  // "duplicate_content_length: Content-Length given twice (5 and 6)"
  std::string message() const;
};

// How an error detail quotes the input: printable ASCII as is, other bytes as \xNN, cut at
// `max` bytes with "..."; byteName(0x7f) is "0x7f".
std::string printable(std::string_view s, size_t max = 64);
std::string byteName(unsigned char c);

}  // namespace warren::http1
