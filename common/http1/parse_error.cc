#include "common/http1/parse_error.h"

namespace warren::http1 {

const char* parseErrorName(ParseError e) {
  switch (e) {
    case ParseError::kBareLf:
      return "bare_lf";
    case ParseError::kInvalidRequestLine:
      return "invalid_request_line";
    case ParseError::kInvalidMethod:
      return "invalid_method";
    case ParseError::kInvalidTarget:
      return "invalid_target";
    case ParseError::kInvalidVersion:
      return "invalid_version";
    case ParseError::kUnsupportedVersion:
      return "unsupported_version";
    case ParseError::kRequestLineTooLong:
      return "request_line_too_long";
    case ParseError::kInvalidStatusLine:
      return "invalid_status_line";
    case ParseError::kStatusLineTooLong:
      return "status_line_too_long";
    case ParseError::kConnectNotSupported:
      return "connect_not_supported";
    case ParseError::kObsFold:
      return "obs_fold";
    case ParseError::kInvalidHeaderName:
      return "invalid_header_name";
    case ParseError::kWhitespaceBeforeColon:
      return "whitespace_before_colon";
    case ParseError::kInvalidHeaderValue:
      return "invalid_header_value";
    case ParseError::kTooManyHeaders:
      return "too_many_headers";
    case ParseError::kHeadersTooLarge:
      return "headers_too_large";
    case ParseError::kMissingHost:
      return "missing_host";
    case ParseError::kDuplicateHost:
      return "duplicate_host";
    case ParseError::kInvalidHost:
      return "invalid_host";
    case ParseError::kUnsupportedExpectation:
      return "unsupported_expectation";
    case ParseError::kInvalidContentLength:
      return "invalid_content_length";
    case ParseError::kDuplicateContentLength:
      return "duplicate_content_length";
    case ParseError::kContentLengthWithTransferEncoding:
      return "content_length_with_transfer_encoding";
    case ParseError::kTransferEncodingNotChunked:
      return "transfer_encoding_not_chunked";
    case ParseError::kUnsupportedTransferCoding:
      return "unsupported_transfer_coding";
    case ParseError::kTransferEncodingInHttp10:
      return "transfer_encoding_in_http10";
    case ParseError::kInvalidChunkSize:
      return "invalid_chunk_size";
    case ParseError::kChunkSizeOverflow:
      return "chunk_size_overflow";
    case ParseError::kInvalidChunkExtension:
      return "invalid_chunk_extension";
    case ParseError::kChunkLineTooLong:
      return "chunk_line_too_long";
    case ParseError::kInvalidChunkTerminator:
      return "invalid_chunk_terminator";
    case ParseError::kBodyTooLarge:
      return "body_too_large";
    case ParseError::kUnexpectedUpgrade:
      return "unexpected_upgrade";
    case ParseError::kUnsolicitedResponse:
      return "unsolicited_response";
    case ParseError::kIncompleteMessage:
      return "incomplete_message";
  }
  return "unknown";
}

int statusFor(ParseError e, Role role) {
  if (role == Role::kResponse) return 502;
  switch (e) {
    case ParseError::kRequestLineTooLong:
      return 414;  // URI Too Long: the request line is (almost all) the target
    case ParseError::kTooManyHeaders:
    case ParseError::kHeadersTooLarge:
      return 431;
    case ParseError::kBodyTooLarge:
      return 413;
    case ParseError::kUnsupportedExpectation:
      return 417;
    case ParseError::kUnsupportedVersion:
      return 505;
    case ParseError::kConnectNotSupported:
    case ParseError::kUnsupportedTransferCoding:
      return 501;  // RFC 9110 §15.6.2 / RFC 9112 §6.1: a method or coding we do not implement
    default:
      return 400;
  }
}

std::string ParseFailure::message() const {
  std::string m = parseErrorName(error);
  if (!detail.empty()) m += ": " + detail;
  return m;
}

std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (unsigned char c : s.substr(0, max)) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string byteName(unsigned char c) {
  static const char* hex = "0123456789abcdef";
  std::string s = "0x";
  s.push_back(hex[c >> 4]);
  s.push_back(hex[c & 15]);
  return s;
}

}  // namespace warren::http1
