#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "common/http1/parser.h"
#include "common/http1/syntax.h"

// The parser's body framing (RFC 9112 §6): Host, Content-Length and Transfer-Encoding checked
// and turned into how the body is read; the head handed to the events. parser.cc reads the
// heads, parser_body.cc the bodies.
namespace warren::http1 {

namespace {

using namespace syntax;

constexpr size_t kNpos = std::string_view::npos;
// Content-Length digits: 18 keep the value below 10^18 < 2^63.
constexpr size_t kMaxContentLengthDigits = 18;

// RFC 3986 host [ ":" port ], as allowed in the Host field (RFC 9110 §7.2). Empty is allowed.
bool validHost(std::string_view h) {
  if (h.empty()) return true;
  size_t port_at = kNpos;
  if (h.front() == '[') {
    size_t close = h.find(']');
    if (close == kNpos || close == 1) return false;
    for (unsigned char c : h.substr(1, close - 1))
      if (!(hexValue(c) >= 0 || c == ':' || c == '.')) return false;
    if (close + 1 < h.size()) {
      if (h[close + 1] != ':') return false;
      port_at = close + 1;
    }
  } else {
    port_at = h.find(':');
    std::string_view name = h.substr(0, port_at);
    if (name.empty()) return false;
    for (unsigned char c : name) {
      bool unreserved = std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
      bool sub_delim = std::strchr("!$&'()*+,;=", c) != nullptr && c != 0;
      if (!(unreserved || sub_delim || c == '%')) return false;
    }
  }
  if (port_at != kNpos)
    for (unsigned char c : h.substr(port_at + 1))
      if (!isDigit(c)) return false;
  return true;
}

// What the framing-relevant fields of a head say, gathered in one pass.
struct FramingFields {
  int content_lengths = 0;
  std::string_view content_length;
  std::string content_length_values;  // for the error text when there are several
  bool transfer_encoding = false;
  std::vector<std::string_view> codings;
  int hosts = 0;
  std::string_view host;
  bool close = false;
  bool keep_alive = false;
  bool upgrade_option = false;
  bool upgrade_field = false;
  bool expect = false;
  bool expect_other = false;
  std::string_view expect_value;
};

FramingFields gatherFraming(std::span<const HeaderField> fields) {
  FramingFields f;
  for (const auto& h : fields) {
    if (equalsIgnoreCase(h.name, "content-length")) {
      if (f.content_lengths++ > 0) f.content_length_values += " and ";
      f.content_length_values += printable(h.value, 24);
      f.content_length = h.value;
    } else if (equalsIgnoreCase(h.name, "transfer-encoding")) {
      f.transfer_encoding = true;
      forEachListElement(h.value, [&](std::string_view c) { f.codings.push_back(c); });
    } else if (equalsIgnoreCase(h.name, "host")) {
      ++f.hosts;
      f.host = h.value;
    } else if (equalsIgnoreCase(h.name, "connection")) {
      forEachListElement(h.value, [&](std::string_view o) {
        if (equalsIgnoreCase(o, "close")) f.close = true;
        if (equalsIgnoreCase(o, "keep-alive")) f.keep_alive = true;
        if (equalsIgnoreCase(o, "upgrade")) f.upgrade_option = true;
      });
    } else if (equalsIgnoreCase(h.name, "upgrade")) {
      f.upgrade_field = true;
    } else if (equalsIgnoreCase(h.name, "expect")) {
      f.expect = true;
      forEachListElement(h.value, [&](std::string_view e) {
        if (!equalsIgnoreCase(e, "100-continue")) {
          f.expect_other = true;
          f.expect_value = e;
        }
      });
    }
  }
  return f;
}

// Content-Length and Transfer-Encoding, the same for requests and responses: one framing, or
// an error naming the ambiguity.
bool checkFraming(const FramingFields& f, const MessageHead& head, ParseFailure& err,
                  BodyKind& body, uint64_t& length) {
  auto bad = [&](ParseError e, std::string detail) {
    err.error = e;
    err.detail = std::move(detail);
    return false;
  };
  body = BodyKind::kNone;
  if (f.content_lengths > 1)
    return bad(ParseError::kDuplicateContentLength, "Content-Length given " +
                                                        std::to_string(f.content_lengths) +
                                                        " times (" + f.content_length_values + ")");
  if (f.content_lengths == 1) {
    if (f.content_length.find(',') != kNpos)
      return bad(ParseError::kDuplicateContentLength,
                 "Content-Length is a list ('" + printable(f.content_length) + "')");
    if (f.content_length.empty())
      return bad(ParseError::kInvalidContentLength, "empty Content-Length");
    uint64_t n = 0;
    for (unsigned char c : f.content_length)
      if (!isDigit(c))
        return bad(ParseError::kInvalidContentLength,
                   "Content-Length '" + printable(f.content_length) + "' is not a number");
    std::string_view digits = f.content_length;
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    if (digits.size() > kMaxContentLengthDigits)
      return bad(ParseError::kInvalidContentLength,
                 "Content-Length '" + printable(f.content_length) + "' is too large");
    for (unsigned char c : digits) n = n * 10 + (c - '0');
    body = BodyKind::kLength;
    length = n;
  }
  if (f.transfer_encoding) {
    if (head.version.minor == 0)
      return bad(ParseError::kTransferEncodingInHttp10,
                 "Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1: faulty framing)");
    if (f.content_lengths > 0)
      return bad(ParseError::kContentLengthWithTransferEncoding,
                 "both Content-Length and Transfer-Encoding");
    if (f.codings.empty() || !equalsIgnoreCase(f.codings.back(), "chunked"))
      return bad(ParseError::kTransferEncodingNotChunked,
                 "the final transfer coding is '" +
                     printable(f.codings.empty() ? std::string_view() : f.codings.back()) +
                     "', not chunked");
    if (f.codings.size() > 1)
      return bad(ParseError::kUnsupportedTransferCoding,
                 "transfer coding '" + printable(f.codings.front()) + "' before chunked");
    body = BodyKind::kChunked;
    length = 0;
  }
  return true;
}

}  // namespace

bool Parser::frameRequest(MessageHead& head) {
  FramingFields f = gatherFraming(head.headers);
  if (f.hosts > 1)
    return fail(ParseError::kDuplicateHost, "Host given " + std::to_string(f.hosts) + " times");
  if (f.hosts == 0 && head.version.minor >= 1)
    return fail(ParseError::kMissingHost, "HTTP/1.1 request without Host");
  if (!validHost(f.host)) return fail(ParseError::kInvalidHost, "Host '" + printable(f.host) + "'");
  head.host = f.host;
  ParseFailure err{ParseError::kInvalidContentLength, role_, ""};
  if (!checkFraming(f, head, err, head.body, head.content_length))
    return fail(err.error, std::move(err.detail));
  if (head.body == BodyKind::kLength && head.content_length > limits_.max_body_bytes)
    return fail(ParseError::kBodyTooLarge, "Content-Length " + std::to_string(head.content_length) +
                                               " exceeds " +
                                               std::to_string(limits_.max_body_bytes) + " bytes");
  head.keep_alive = head.version.minor >= 1 ? !f.close : (f.keep_alive && !f.close);
  if (f.expect && head.version.minor >= 1) {
    if (f.expect_other)
      return fail(ParseError::kUnsupportedExpectation,
                  "Expect: " + printable(f.expect_value) + " (only 100-continue)");
    head.expect_continue = true;
  }
  head.upgrade = f.upgrade_field && f.upgrade_option;
  return true;
}

bool Parser::frameResponse(MessageHead& head) {
  if (pending_heads_.empty())
    return fail(ParseError::kUnsolicitedResponse,
                "status " + std::to_string(head.status) + " with no request outstanding");
  if (head.status == 101)
    return fail(ParseError::kUnexpectedUpgrade, "101 Switching Protocols (never asked for)");
  FramingFields f = gatherFraming(head.headers);
  ParseFailure err{ParseError::kInvalidContentLength, role_, ""};
  BodyKind framed = BodyKind::kNone;
  uint64_t length = 0;
  if (!checkFraming(f, head, err, framed, length)) return fail(err.error, std::move(err.detail));
  head.keep_alive = head.version.minor >= 1 ? !f.close : (f.keep_alive && !f.close);
  if (head.isInterim()) {
    head.body = BodyKind::kNone;  // the final response follows
    return true;
  }
  bool head_request = pending_heads_.front();
  pending_heads_.pop_front();
  // RFC 9112 §6.3: these never have a body, whatever their fields say.
  if (head_request || head.status == 204 || head.status == 304) {
    head.body = BodyKind::kNone;
    head.content_length = framed == BodyKind::kLength ? length : 0;
    return true;
  }
  if (framed == BodyKind::kNone) {
    head.body = BodyKind::kUntilClose;
    head.keep_alive = false;
    return true;
  }
  head.body = framed;
  head.content_length = length;
  if (framed == BodyKind::kLength && length > limits_.max_body_bytes)
    return fail(ParseError::kBodyTooLarge, "Content-Length " + std::to_string(length) +
                                               " exceeds " +
                                               std::to_string(limits_.max_body_bytes) + " bytes");
  return true;
}

bool Parser::deliverHead(MessageHead& head) {
  in_message_ = true;
  keep_alive_ = head.keep_alive;
  body_total_ = 0;
  if (head.isInterim()) {
    state_ = State::kHead;  // the final head of this response comes next
  } else {
    switch (head.body) {
      case BodyKind::kNone:
        state_ = State::kComplete;
        break;
      case BodyKind::kLength:
        body_remaining_ = head.content_length;
        state_ = body_remaining_ == 0 ? State::kComplete : State::kBodyLength;
        break;
      case BodyKind::kChunked:
        state_ = State::kChunkLine;
        break;
      case BodyKind::kUntilClose:
        state_ = State::kBodyUntilClose;
        break;
    }
  }
  return !pausedBy(events_.onHead(head));
}

}  // namespace warren::http1
