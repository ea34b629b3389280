#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "common/http1/parser.h"
#include "common/http1/syntax.h"

// The parser's body steps: Content-Length bodies, chunked bodies (size line, extensions, data,
// terminator) and trailers, then the end of the message. parser.cc reads the heads,
// parser_framing.cc decides the framing.
namespace warren::http1 {

namespace {

using namespace syntax;

// 15 hex digits: chunk sizes up to 2^60 - 1. Larger is an attack (or a bug) on any real
// connection, and the bound keeps the arithmetic far from overflow.
constexpr size_t kMaxChunkSizeDigits = 15;

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
