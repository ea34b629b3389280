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

// "HTTP/" DIGIT "." DIGIT
bool parseVersion(std::string_view s, Version& v) {
  if (s.size() != 8 || s.substr(0, 5) != "HTTP/" || !isDigit(static_cast<unsigned char>(s[5])) ||
      s[6] != '.' || !isDigit(static_cast<unsigned char>(s[7])))
    return false;
  v.major = s[5] - '0';
  v.minor = s[7] - '0';
  return true;
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

}  // namespace warren::http1
