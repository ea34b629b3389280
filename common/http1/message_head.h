// The values the HTTP/1 codec hands out and takes in. Parsed heads are views: every
// string_view points into the bytes given to Parser::feed() (or, when a head arrived in pieces,
// the parser's own copy of it) and is valid only during the event that carries it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace warren::http1 {

struct Version {
  int major = 1;
  int minor = 1;
  bool operator==(const Version&) const = default;
};

struct HeaderField {
  std::string_view name;   // as sent (compare with equalsIgnoreCase)
  std::string_view value;  // without surrounding whitespace
};

// First value of `name` (case-insensitive), if any.
std::optional<std::string_view> findHeader(std::span<const HeaderField> fields,
                                           std::string_view name);

// How the body of a message is delimited (RFC 9112 §6.3).
enum class BodyKind {
  kNone,        // no body: no framing header, HEAD/1xx/204/304 responses
  kLength,      // Content-Length bytes
  kChunked,     // Transfer-Encoding: chunked, then trailers
  kUntilClose,  // a response without framing: the body ends when the connection does
};

struct MessageHead {
  Version version;
  // Requests.
  std::string_view method;
  std::string_view target;  // as sent: origin-form, absolute-form or "*"
  std::string_view host;    // the Host field (requests; empty when HTTP/1.0 sent none)
  // Responses.
  int status = 0;
  std::string_view reason;

  std::span<const HeaderField> headers;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;  // when body == kLength
  // The connection may carry another message after this one (HTTP/1.1 without
  // "Connection: close", HTTP/1.0 with "Connection: keep-alive", never after kUntilClose).
  bool keep_alive = true;
  // "Expect: 100-continue" on an HTTP/1.1 request: answer 100 (Serializer::continueResponse)
  // before reading the body, or a final status instead.
  bool expect_continue = false;
  // The client asked to switch protocols (Upgrade + "Connection: upgrade"). The codec never
  // switches: the message is parsed as plain HTTP, and the caller answers it as one (or
  // refuses it), which RFC 9110 §7.8 allows.
  bool upgrade = false;

  std::optional<std::string_view> header(std::string_view name) const {
    return findHeader(headers, name);
  }
  bool isInterim() const { return status >= 100 && status < 200; }
};

}  // namespace warren::http1
