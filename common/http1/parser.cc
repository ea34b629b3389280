#include "common/http1/parser.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "common/http1/syntax.h"

namespace warren::http1 {

namespace {

using namespace syntax;

constexpr size_t kNpos = std::string_view::npos;
// RFC 9112 §2.2 asks a server to ignore at least one empty line before a request line (some
// clients send a CRLF after a POST body). A handful is plenty; more is garbage.
constexpr size_t kMaxEmptyLinesBeforeStart = 8;
// 15 hex digits: chunk sizes up to 2^60 - 1. Larger is an attack (or a bug) on any real
// connection, and the bound keeps the arithmetic far from overflow.
constexpr size_t kMaxChunkSizeDigits = 15;
// Content-Length digits: 18 keep the value below 10^18 < 2^63.
constexpr size_t kMaxContentLengthDigits = 18;

std::string printable(std::string_view s, size_t max = 64) {
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

// "HTTP/" DIGIT "." DIGIT
bool parseVersion(std::string_view s, Version& v) {
  if (s.size() != 8 || s.substr(0, 5) != "HTTP/" || !isDigit(static_cast<unsigned char>(s[5])) ||
      s[6] != '.' || !isDigit(static_cast<unsigned char>(s[7])))
    return false;
  v.major = s[5] - '0';
  v.minor = s[7] - '0';
  return true;
}

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

// chunk-ext after the size: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
bool validChunkExtensions(std::string_view s) {
  size_t i = 0;
  auto skipWs = [&] {
    while (i < s.size() && isWhitespace(static_cast<unsigned char>(s[i]))) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < s.size() && isTokenChar(static_cast<unsigned char>(s[i]))) ++i;
    return i > start;
  };
  while (true) {
    size_t before = i;
    skipWs();
    // Whitespace is allowed before a ';' only (BWS), never at the end of the line.
    if (i == s.size()) return i == before;
    if (s[i] != ';') return false;
    ++i;
    skipWs();
    if (!token()) return false;
    skipWs();
    if (i < s.size() && s[i] == '=') {
      ++i;
      skipWs();
      if (i < s.size() && s[i] == '"') {
        ++i;
        bool closed = false;
        while (i < s.size()) {
          unsigned char c = static_cast<unsigned char>(s[i]);
          if (c == '"') {
            closed = true;
            ++i;
            break;
          }
          if (c == '\\') {
            if (++i == s.size()) return false;
            c = static_cast<unsigned char>(s[i]);
          }
          if (!isFieldValueChar(c)) return false;
          ++i;
        }
        if (!closed) return false;
      } else if (!token()) {
        return false;
      }
    }
  }
}

}  // namespace

std::optional<std::string_view> findHeader(std::span<const HeaderField> fields,
                                           std::string_view name) {
  for (const auto& f : fields)
    if (equalsIgnoreCase(f.name, name)) return f.value;
  return std::nullopt;
}

Parser::Parser(Role role, ParserEvents& events, ParserLimits limits)
    : role_(role), events_(events), limits_(limits) {
  failure_.role = role;
}

void Parser::expectResponse(std::string_view request_method) {
  pending_heads_.push_back(request_method == "HEAD");
}

bool Parser::midMessage() const {
  if (state_ == State::kClosed || state_ == State::kFailed) return false;
  return in_message_ || scan_.seen > 0 || !gathered_.empty();
}

bool Parser::fail(ParseError error, std::string detail) {
  state_ = State::kFailed;
  failure_ = ParseFailure{error, role_, std::move(detail)};
  return false;
}

FeedResult Parser::feed(std::string_view data) {
  std::string_view in = data;
  bool go = true;
  while (go) {
    switch (state_) {
      case State::kHead:
        go = !in.empty() && stepHead(in);
        break;
      case State::kBodyLength:
        go = stepBodyLength(in);
        break;
      case State::kBodyUntilClose:
        if (in.empty()) {
          go = false;
          break;
        }
        {
          // Up to the limit the bytes are body, whatever the cut of the input; past it, an error.
          uint64_t room = limits_.max_body_bytes - body_total_;
          if (room == 0) {
            go = fail(ParseError::kBodyTooLarge,
                      "body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
            break;
          }
          size_t n = static_cast<size_t>(std::min<uint64_t>(room, in.size()));
          body_total_ += n;
          std::string_view piece = in.substr(0, n);
          in.remove_prefix(n);
          go = !pausedBy(events_.onBody(piece));
        }
        break;
      case State::kChunkLine:
        go = !in.empty() && stepChunkLine(in);
        break;
      case State::kChunkData:
        go = !in.empty() && stepChunkData(in);
        break;
      case State::kChunkDataEnd:
        go = !in.empty() && stepChunkDataEnd(in);
        break;
      case State::kTrailers:
        go = !in.empty() && stepTrailers(in);
        break;
      case State::kComplete:
        go = messageComplete();
        break;
      case State::kClosed:
        go = false;
        break;
      case State::kFailed:
        return std::unexpected(failure_);
    }
  }
  if (state_ == State::kFailed) return std::unexpected(failure_);
  return data.size() - in.size();
}

FeedResult Parser::finish() {
  switch (state_) {
    case State::kFailed:
      return std::unexpected(failure_);
    case State::kClosed:
      return 0;
    case State::kBodyUntilClose:
      keep_alive_ = false;
      messageComplete();
      return 0;
    case State::kComplete:
      messageComplete();
      if (state_ == State::kHead) state_ = State::kClosed;
      return 0;
    case State::kHead:
      if (!midMessage()) {
        state_ = State::kClosed;
        return 0;
      }
      fail(ParseError::kIncompleteMessage,
           in_message_ ? "input ended after an interim response" : "input ended inside a head");
      return std::unexpected(failure_);
    case State::kBodyLength:
      fail(ParseError::kIncompleteMessage,
           "input ended with " + std::to_string(body_remaining_) + " bytes of the body missing");
      return std::unexpected(failure_);
    default:
      fail(ParseError::kIncompleteMessage, "input ended inside a chunked body");
      return std::unexpected(failure_);
  }
}

size_t Parser::scanSection(std::string_view in, bool is_head) {
  const bool start_line = is_head;  // a head's first non-empty line is its start line
  size_t i = 0;
  while (i < in.size()) {
    const char* nl = static_cast<const char*>(std::memchr(in.data() + i, '\n', in.size() - i));
    size_t stop = nl ? static_cast<size_t>(nl - in.data()) : in.size();
    if (stop > i) scan_.cr = in[stop - 1] == '\r';
    // The line so far (without a CR that may be the start of its CRLF).
    size_t partial = scan_.seen + stop - scan_.line_start - (scan_.cr ? 1 : 0);
    bool on_start_line = start_line && scan_.lines == 0;
    if (on_start_line && role_ == Role::kRequest && !scan_.method_done) {
      // The method is checked as it arrives, so garbage (a TLS ClientHello on a plain port) is
      // refused at once rather than when a line end or the length limit comes. Only bytes within
      // the length limit: every cut of the input must give the error byte-by-byte feeding gives.
      for (size_t k = i; k < stop; ++k) {
        if (scan_.seen + k - scan_.line_start > limits_.max_start_line_bytes) break;
        unsigned char c = static_cast<unsigned char>(in[k]);
        if (c == ' ') {
          scan_.method_done = true;
          break;
        }
        if (c != '\r' && !isTokenChar(c)) {
          fail(ParseError::kInvalidMethod, "byte " + byteName(c) + " in the method");
          return kNpos;
        }
      }
    }
    if (on_start_line && partial > limits_.max_start_line_bytes) {
      fail(role_ == Role::kRequest ? ParseError::kRequestLineTooLong
                                   : ParseError::kStatusLineTooLong,
           (role_ == Role::kRequest ? "request line over " : "status line over ") +
               std::to_string(limits_.max_start_line_bytes) + " bytes");
      return kNpos;
    }
    if (!on_start_line && scan_.field_bytes + partial > limits_.max_header_bytes) {
      fail(ParseError::kHeadersTooLarge, std::string(is_head ? "header" : "trailer") +
                                             " section over " +
                                             std::to_string(limits_.max_header_bytes) + " bytes");
      return kNpos;
    }
    if (!nl) break;
    if (!scan_.cr) {
      fail(ParseError::kBareLf, std::string("line ") + std::to_string(scan_.lines + 1) +
                                    " of the " + (is_head ? "head" : "trailers") +
                                    " ends in LF without CR");
      return kNpos;
    }
    size_t line_len = partial;
    size_t next = scan_.seen + stop + 1;
    scan_.line_start = next;
    scan_.cr = false;
    i = stop + 1;
    if (line_len == 0) {
      if (start_line && scan_.lines == 0) {
        if (++scan_.skipped > kMaxEmptyLinesBeforeStart) {
          fail(role_ == Role::kRequest ? ParseError::kInvalidRequestLine
                                       : ParseError::kInvalidStatusLine,
               "more than " + std::to_string(kMaxEmptyLinesBeforeStart) +
                   " empty lines before the start line");
          return kNpos;
        }
        continue;
      }
      return i;  // the empty line that ends the section
    }
    if (!on_start_line) {
      scan_.field_bytes += line_len + 2;
      size_t fields = scan_.lines + 1 - (start_line ? 1 : 0);
      if (fields > limits_.max_headers) {
        fail(ParseError::kTooManyHeaders, std::string("more than ") +
                                              std::to_string(limits_.max_headers) + " " +
                                              (is_head ? "header" : "trailer") + " fields");
        return kNpos;
      }
    }
    ++scan_.lines;
  }
  scan_.seen += in.size();
  return kNpos;
}

std::optional<std::string_view> Parser::gatherSection(std::string_view& in, bool is_head) {
  size_t end = scanSection(in, is_head);
  if (state_ == State::kFailed) return std::nullopt;
  if (end == kNpos) {
    gathered_.append(in);
    in = {};
    return std::nullopt;
  }
  std::string_view block;
  if (gathered_.empty()) {
    block = in.substr(0, end);  // the whole section is in this input: parse it in place
  } else {
    gathered_.append(in.substr(0, end));
    block = gathered_;
  }
  in.remove_prefix(end);
  scan_ = {};
  return block;
}

bool Parser::stepHead(std::string_view& in) {
  auto block = gatherSection(in, /*is_head=*/true);
  if (!block) return false;
  bool go = parseHead(*block);
  gathered_.clear();  // after the head event: its views pointed here
  return go;
}

bool Parser::parseHead(std::string_view block) {
  size_t pos = 0;
  while (block.substr(pos, 2) == "\r\n") pos += 2;
  size_t eol = block.find("\r\n", pos);
  std::string_view line = block.substr(pos, eol - pos);
  MessageHead head;
  bool ok = role_ == Role::kRequest ? parseRequestLine(line, head) : parseStatusLine(line, head);
  if (!ok) return false;
  fields_.clear();
  if (!parseFields(block, eol + 2, fields_)) return false;
  head.headers = fields_;
  ok = role_ == Role::kRequest ? frameRequest(head) : frameResponse(head);
  if (!ok) return false;
  return deliverHead(head);
}

bool Parser::parseRequestLine(std::string_view line, MessageHead& head) {
  size_t sp1 = line.find(' ');
  if (sp1 == kNpos)
    return fail(ParseError::kInvalidRequestLine, "no space in '" + printable(line) + "'");
  head.method = line.substr(0, sp1);
  if (!isToken(head.method))
    return fail(ParseError::kInvalidMethod,
                "method '" + printable(head.method) + "' is not a token");
  std::string_view rest = line.substr(sp1 + 1);
  size_t sp2 = rest.find(' ');
  if (sp2 == kNpos)
    return fail(ParseError::kInvalidRequestLine,
                "no HTTP version after the target in '" + printable(line) + "'");
  head.target = rest.substr(0, sp2);
  std::string_view version = rest.substr(sp2 + 1);
  if (head.target.empty())
    return fail(ParseError::kInvalidRequestLine,
                "empty target (two spaces) in '" + printable(line) + "'");
  for (unsigned char c : head.target)
    if (!isVisible(c))
      return fail(ParseError::kInvalidTarget, "byte " + byteName(c) + " in the target");
  if (!parseVersion(version, head.version))
    return fail(ParseError::kInvalidVersion, "'" + printable(version) + "' is not HTTP/x.y");
  if (head.version.major != 1)
    return fail(ParseError::kUnsupportedVersion, "HTTP/" + std::to_string(head.version.major) +
                                                     "." + std::to_string(head.version.minor) +
                                                     " (this codec speaks HTTP/1.x)");
  if (head.method == "CONNECT")
    return fail(ParseError::kConnectNotSupported, "CONNECT " + printable(head.target));
  if (head.target.find('#') != kNpos)
    return fail(ParseError::kInvalidTarget, "a fragment ('#') in the target");
  if (head.target == "*") {
    if (head.method != "OPTIONS")
      return fail(ParseError::kInvalidTarget, "'*' is only a target for OPTIONS");
    return true;
  }
  if (head.target.front() == '/') return true;  // origin-form
  // absolute-form: scheme "://" ... (a proxy request)
  size_t colon = head.target.find("://");
  bool scheme_ok =
      colon != kNpos && colon > 0 && std::isalpha(static_cast<unsigned char>(head.target[0]));
  for (size_t i = 0; scheme_ok && i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(head.target[i]);
    scheme_ok = std::isalnum(c) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok)
    return fail(ParseError::kInvalidTarget,
                "'" + printable(head.target) + "' is neither a path nor an absolute URI");
  return true;
}

bool Parser::parseStatusLine(std::string_view line, MessageHead& head) {
  if (line.size() < 12 || line[8] != ' ')
    return fail(ParseError::kInvalidStatusLine, "'" + printable(line) + "'");
  if (!parseVersion(line.substr(0, 8), head.version))
    return fail(ParseError::kInvalidVersion,
                "'" + printable(line.substr(0, 8)) + "' is not HTTP/x.y");
  if (head.version.major != 1)
    return fail(ParseError::kUnsupportedVersion, "HTTP/" + std::to_string(head.version.major) +
                                                     "." + std::to_string(head.version.minor));
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (!isDigit(c))
      return fail(ParseError::kInvalidStatusLine, "status '" + printable(line.substr(9, 3)) + "'");
    status = status * 10 + (c - '0');
  }
  if (status < 100 || status > 599)
    return fail(ParseError::kInvalidStatusLine,
                "status " + std::to_string(status) + " out of range");
  head.status = status;
  if (line.size() > 12) {
    if (line[12] != ' ')
      return fail(ParseError::kInvalidStatusLine, "no space after the status code");
    head.reason = line.substr(13);
    for (unsigned char c : head.reason)
      if (!isFieldValueChar(c))
        return fail(ParseError::kInvalidStatusLine,
                    "byte " + byteName(c) + " in the reason phrase");
  }
  return true;
}

bool Parser::parseFields(std::string_view block, size_t first_line, std::vector<HeaderField>& out) {
  size_t pos = first_line;
  while (pos < block.size()) {
    size_t eol = block.find("\r\n", pos);
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    if (isWhitespace(static_cast<unsigned char>(line.front())))
      return fail(ParseError::kObsFold,
                  "field line starts with whitespace (obs-fold): '" + printable(line) + "'");
    size_t colon = line.find(':');
    if (colon == kNpos)
      return fail(ParseError::kInvalidHeaderName,
                  "field line without a colon: '" + printable(line) + "'");
    std::string_view name = line.substr(0, colon);
    if (name.empty()) return fail(ParseError::kInvalidHeaderName, "empty field name");
    if (isWhitespace(static_cast<unsigned char>(name.back())))
      return fail(ParseError::kWhitespaceBeforeColon,
                  "whitespace between '" + printable(trimWhitespace(name)) + "' and its colon");
    for (unsigned char c : name)
      if (!isTokenChar(c))
        return fail(ParseError::kInvalidHeaderName,
                    "byte " + byteName(c) + " in field name '" + printable(name) + "'");
    std::string_view value = trimWhitespace(line.substr(colon + 1));
    for (unsigned char c : value)
      if (!isFieldValueChar(c))
        return fail(ParseError::kInvalidHeaderValue,
                    "byte " + byteName(c) + " in the value of '" + printable(name) + "'");
    out.push_back(HeaderField{name, value});
  }
  return true;
}

namespace {

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

bool Parser::stepBodyLength(std::string_view& in) {
  if (in.empty()) return false;
  size_t n = static_cast<size_t>(std::min<uint64_t>(body_remaining_, in.size()));
  std::string_view chunk = in.substr(0, n);
  in.remove_prefix(n);
  body_remaining_ -= n;
  body_total_ += n;
  if (body_remaining_ == 0) state_ = State::kComplete;
  return !pausedBy(events_.onBody(chunk));
}

bool Parser::stepChunkLine(std::string_view& in) {
  const char* nl = static_cast<const char*>(std::memchr(in.data(), '\n', in.size()));
  size_t n = nl ? static_cast<size_t>(nl - in.data()) : in.size();
  if (gathered_.size() + n > limits_.max_chunk_line_bytes + 1)  // +1: the CR
    return fail(ParseError::kChunkLineTooLong,
                "chunk-size line over " + std::to_string(limits_.max_chunk_line_bytes) + " bytes");
  if (!nl) {
    gathered_.append(in);
    in = {};
    return false;
  }
  std::string_view line;
  if (gathered_.empty()) {
    line = in.substr(0, n);
  } else {
    gathered_.append(in.substr(0, n));
    line = gathered_;
  }
  in.remove_prefix(n + 1);
  if (line.empty() || line.back() != '\r')
    return fail(ParseError::kBareLf, "chunk-size line ends in LF without CR");
  line.remove_suffix(1);
  size_t digits = 0, significant = 0;
  uint64_t size = 0;
  while (digits < line.size() && hexValue(static_cast<unsigned char>(line[digits])) >= 0) {
    int v = hexValue(static_cast<unsigned char>(line[digits]));
    if (significant > 0 || v != 0) ++significant;
    if (significant > kMaxChunkSizeDigits)
      return fail(ParseError::kChunkSizeOverflow,
                  "chunk size '" + printable(line.substr(0, 32)) + "' over 2^60");
    size = size * 16 + static_cast<uint64_t>(v);
    ++digits;
  }
  if (digits == 0)
    return fail(ParseError::kInvalidChunkSize, "chunk-size line '" + printable(line) + "'");
  std::string_view ext = line.substr(digits);
  if (!ext.empty()) {
    unsigned char c = static_cast<unsigned char>(ext.front());
    if (c != ';' && !isWhitespace(c))
      return fail(ParseError::kInvalidChunkSize, "chunk size '" + printable(line) + "'");
    if (!validChunkExtensions(ext))
      return fail(ParseError::kInvalidChunkExtension, "'" + printable(ext) + "'");
  }
  gathered_.clear();
  if (size == 0) {
    state_ = State::kTrailers;
    scan_ = {};
    return true;
  }
  if (body_total_ + size > limits_.max_body_bytes)
    return fail(ParseError::kBodyTooLarge,
                "chunked body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
  body_remaining_ = size;
  state_ = State::kChunkData;
  return true;
}

bool Parser::stepChunkData(std::string_view& in) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(body_remaining_, in.size()));
  std::string_view chunk = in.substr(0, n);
  in.remove_prefix(n);
  body_remaining_ -= n;
  body_total_ += n;
  if (body_remaining_ == 0) {
    state_ = State::kChunkDataEnd;
    chunk_end_seen_ = 0;
  }
  return !pausedBy(events_.onBody(chunk));
}

bool Parser::stepChunkDataEnd(std::string_view& in) {
  while (chunk_end_seen_ < 2 && !in.empty()) {
    char want = chunk_end_seen_ == 0 ? '\r' : '\n';
    if (in.front() != want) {
      if (chunk_end_seen_ == 0 && in.front() == '\n')
        return fail(ParseError::kBareLf, "chunk data ends in LF without CR");
      return fail(ParseError::kInvalidChunkTerminator,
                  "chunk data followed by " + byteName(static_cast<unsigned char>(in.front())) +
                      " instead of CRLF (chunk longer than its size)");
    }
    in.remove_prefix(1);
    ++chunk_end_seen_;
  }
  if (chunk_end_seen_ < 2) return false;
  state_ = State::kChunkLine;
  return true;
}

bool Parser::stepTrailers(std::string_view& in) {
  auto block = gatherSection(in, /*is_head=*/false);
  if (!block) return false;
  fields_.clear();
  if (!parseFields(*block, 0, fields_)) return false;
  state_ = State::kComplete;
  Flow flow = fields_.empty() ? Flow::kContinue : events_.onTrailers(fields_);
  gathered_.clear();
  return !pausedBy(flow);
}

bool Parser::messageComplete() {
  in_message_ = false;
  state_ = keep_alive_ ? State::kHead : State::kClosed;
  Flow flow = events_.onMessageComplete();
  return !pausedBy(flow) && state_ == State::kHead;
}

}  // namespace warren::http1
