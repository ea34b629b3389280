// Parser: a streaming, sans-I/O HTTP/1.1 parser for requests (a server's side) or responses
// (a client's side). Bytes go in through feed(); events come out through ParserEvents; the
// caller owns all I/O. It enforces RFC 9112's framing rules strictly, rejecting everything
// that lets two parsers disagree about where a message ends (request smuggling): Content-Length
// with Transfer-Encoding, duplicate or list Content-Length, a final coding other than chunked,
// malformed or overflowing chunk sizes, obs-fold, bare LF, whitespace before a colon, control
// bytes in fields, missing or duplicate Host. Each rule is its own ParseError.
//
// Zero copy: header fields and body chunks are views into the bytes given to feed(). A head
// (or trailer section) that arrives in pieces is gathered in a buffer bounded by the limits,
// then viewed there; body bytes are never copied.
//
// Backpressure: every event returns Flow. kPause stops the parser right after that event and
// feed() returns how many bytes it consumed; the caller keeps the rest and feeds it again
// when ready. Pausing at onMessageComplete is how a server serves pipelined requests one at a
// time; pausing at onBody is how a slow upstream stops the reading of a large body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http1/message_head.h"
#include "common/http1/parse_error.h"

namespace warren::http1 {

struct ParserLimits {
  // Request line (414 when over) or status line. 8 KiB is the common server default (nginx's
  // large_client_header_buffers, Envoy's 60 KiB header block covers line and fields).
  size_t max_start_line_bytes = 8 * 1024;
  // Field lines of the header section, and of the trailer section, each (431). Envoy's
  // max_request_headers_kb defaults to 60 KiB.
  size_t max_header_bytes = 60 * 1024;
  size_t max_headers = 100;  // field lines per section; Envoy's default
  // Body bytes of one message (413; a declared Content-Length over it is refused before the
  // head is delivered). Unlimited by default: a proxy streams bodies.
  uint64_t max_body_bytes = std::numeric_limits<uint64_t>::max();
  // A chunk-size line with its extensions. Nobody needs more than a few bytes; the bound keeps
  // an endless extension from being buffered.
  size_t max_chunk_line_bytes = 4 * 1024;
};

enum class Flow { kContinue, kPause };

class ParserEvents {
 public:
  virtual ~ParserEvents() = default;
  // A request head, or a response head (interim 1xx ones included, each followed by the next
  // head of the same response). Checked and framed: `head.body` says what follows.
  virtual Flow onHead(const MessageHead& head) = 0;
  // A piece of body (de-chunked). Never empty.
  virtual Flow onBody(std::string_view data) = 0;
  // The trailer section of a chunked body, when it has fields.
  virtual Flow onTrailers(std::span<const HeaderField> trailers) {
    (void)trailers;
    return Flow::kContinue;
  }
  virtual Flow onMessageComplete() = 0;
};

// Bytes consumed by feed(), or why the parser stopped for good.
using FeedResult = std::expected<size_t, ParseFailure>;

class Parser {
 public:
  Parser(Role role, ParserEvents& events, ParserLimits limits = {});
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Parses from the start of `data` until it is used up, an event asks to pause, or the
  // input is invalid. Returns the bytes consumed (all of them unless paused); the caller
  // feeds the rest again later. After a failure every call returns the same failure. After a
  // message that does not keep the connection alive, nothing more is consumed (closed()).
  FeedResult feed(std::string_view data);
  // The input ended (the peer closed). Completes a response delimited by the close; an error
  // (kIncompleteMessage) when a message was cut short; nothing when between messages.
  FeedResult finish();

  // Response parsers only: the request the next response answers was sent. Responses pair with
  // requests in order; a HEAD request's response has no body whatever its headers say.
  void expectResponse(std::string_view request_method);

  Role role() const { return role_; }
  // A message has started and not completed (a slow sender's timer runs while this is true).
  bool midMessage() const;
  // The last message did not keep the connection alive: the caller closes after answering.
  bool closed() const { return state_ == State::kClosed; }
  bool failed() const { return state_ == State::kFailed; }
  const ParseFailure& failure() const { return failure_; }

 private:
  enum class State {
    kHead,
    kBodyLength,
    kBodyUntilClose,
    kChunkLine,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kComplete,  // the message ended: onMessageComplete is next
    kClosed,
    kFailed,
  };
  // Gathers a section of lines (a head, or trailers) ending in an empty line, checking line
  // endings and limits as bytes arrive.
  struct SectionScan {
    size_t line_start = 0;     // offset of the current line in the gathered bytes
    size_t lines = 0;          // complete non-empty lines so far
    size_t field_bytes = 0;    // bytes of complete field lines
    bool cr = false;           // the last byte seen was CR
    size_t seen = 0;           // bytes scanned
    size_t skipped = 0;        // empty lines before the start line (requests may send some)
    bool method_done = false;  // the request line's first SP was seen
  };

  // Each step consumes from `in` and returns false to stop (pause, need more, or failure).
  bool stepHead(std::string_view& in);
  bool stepBodyLength(std::string_view& in);
  bool stepChunkLine(std::string_view& in);
  bool stepChunkData(std::string_view& in);
  bool stepChunkDataEnd(std::string_view& in);
  bool stepTrailers(std::string_view& in);

  // Scans `in` for the end of a section; returns the offset just past it, or npos.
  size_t scanSection(std::string_view in, bool is_head);
  // The whole section once its empty line arrived: a view into `in` when it came in one piece,
  // else into gathered_ (cleared by the caller after its event). nullopt: more bytes needed, or
  // failed.
  std::optional<std::string_view> gatherSection(std::string_view& in, bool is_head);
  bool parseHead(std::string_view block);
  bool parseRequestLine(std::string_view line, MessageHead& head);
  bool parseStatusLine(std::string_view line, MessageHead& head);
  bool parseFields(std::string_view block, size_t first_line, std::vector<HeaderField>& out);
  bool frameRequest(MessageHead& head);
  bool frameResponse(MessageHead& head);
  bool deliverHead(MessageHead& head);
  bool messageComplete();
  bool fail(ParseError error, std::string detail);
  bool pausedBy(Flow flow) { return flow == Flow::kPause; }

  Role role_;
  ParserEvents& events_;
  ParserLimits limits_;
  State state_ = State::kHead;
  ParseFailure failure_{ParseError::kIncompleteMessage, Role::kRequest, ""};

  std::string gathered_;  // a head / trailer section / chunk line that arrived in pieces
  SectionScan scan_;
  std::vector<HeaderField> fields_;  // reused between messages
  bool keep_alive_ = true;
  bool in_message_ = false;
  uint64_t body_remaining_ = 0;  // kBodyLength / kChunkData
  uint64_t body_total_ = 0;      // body bytes of this message so far
  uint8_t chunk_end_seen_ = 0;   // bytes of the CRLF after chunk data seen

  std::deque<bool> pending_heads_;  // response parser: for each request sent, was it HEAD
};

}  // namespace warren::http1
