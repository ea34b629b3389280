// RequestReader: turns the bytes of an admin connection into complete HttpRequests for the
// router, over the HTTP/1 codec (common/http1: framing, limits and the RFC 9112 rules). One
// request at a time: read() stops after each, so a server answers a pipelined request before
// it parses the next, and never holds more than one response per connection.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/http_message.h"

namespace warren::http {

struct RequestLimits {
  // The request line (414 when over). Far above any admin request; nginx's default is 8 KiB.
  size_t max_request_line_bytes = 8 * 1024;
  // Header field lines (431). 16 KiB is far above any admin request and below Envoy's 60 KiB
  // max_request_headers_kb.
  size_t max_header_bytes = 16 * 1024;
  size_t max_headers = 64;  // header count (431); Envoy defaults to 100
  // Body bytes (413): admin PUTs carry at most a small JSON document.
  size_t max_body_bytes = 1024 * 1024;
};

// Why reading stopped. The connection must answer `status` and close.
struct ParseFailure {
  int status = 400;  // 400 malformed, 413 body, 414 request line, 431 headers, 501, 505...
  std::string reason;
};

class RequestReader {
 public:
  explicit RequestReader(RequestLimits limits = {});
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Reads from the start of `data` until one request is complete (moved into `request`), the
  // bytes run out, or the input is bad (failed(); further input is ignored). Returns the
  // bytes consumed: call again with the rest, after answering `request`.
  size_t read(std::string_view data, std::optional<HttpRequest>& request);

  // The request being read asked for "100 Continue" before its body (Expect: 100-continue):
  // the server sends it once. Cleared by the call.
  bool takeContinue();

  bool failed() const;
  const ParseFailure& failure() const;
  // A request has started but not completed (used to time out slow senders).
  bool midRequest() const;
  // The last request closes the connection (Connection: close, HTTP/1.0): nothing more is read.
  bool closed() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::http
