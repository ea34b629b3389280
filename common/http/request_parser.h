// Sans-I/O HTTP/1.1 request parser over llhttp: bytes in, complete requests out. Enforces the
// bounds an admin endpoint needs so garbage or a flood never grows memory without limit.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_message.h"

namespace warren::http {

struct RequestLimits {
  // Request line + all header bytes. 16 KiB is far above any admin request and below
  // Envoy's 60 KiB default for max_request_headers_kb.
  size_t max_header_bytes = 16 * 1024;
  size_t max_headers = 64;  // header count; Envoy defaults to 100
  // Body bytes: admin PUTs carry at most a small JSON document.
  size_t max_body_bytes = 1024 * 1024;
};

// Why parsing stopped. The connection must answer `status` and close.
struct ParseFailure {
  int status = 400;  // 400 malformed, 413 body too large, 431 headers too large/many
  std::string reason;
};

class RequestParser {
 public:
  explicit RequestParser(RequestLimits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses `data`, appending every request completed by it (pipelined requests included) to
  // `out`. Returns false once the input is invalid; `failure()` says why, and further input is
  // ignored. Requests completed before the bad bytes are still appended.
  bool feed(std::string_view data, std::vector<HttpRequest>& out);

  bool failed() const;
  const ParseFailure& failure() const;

  // True when a request has started but not completed (used to time out slow senders).
  bool midRequest() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::http
