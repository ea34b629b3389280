// Fuzzes the admin server's request path: RequestReader (over the common/http1 codec) on
// arbitrary bytes, split at a point chosen by the first input byte (so chunk boundaries are
// fuzzed too), every request dispatched through a Router and serialised, one at a time as the
// server does. Properties checked: no crash, a failure always has one of the statuses the
// reader documents and a reason, and requests respect the limits.
// fuzz-link: warren_http
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string_view>

#include "common/http/request_reader.h"
#include "common/http/response_writer.h"
#include "common/http/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace warren::http;
  RequestLimits limits;
  limits.max_request_line_bytes = 1024;
  limits.max_header_bytes = 4096;
  limits.max_headers = 16;
  limits.max_body_bytes = 4096;
  static const Router router = [] {
    Router r;
    r.add("GET", "/a",
          [](const HttpRequest& q) { return HttpResponse::text(200, q.queryOr("x")); });
    r.add("PUT", "/a", [](const HttpRequest& q) { return HttpResponse::json(200, q.body); });
    return r;
  }();
  static const std::set<int> kStatuses = {400, 413, 414, 417, 431, 501, 505};
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t split = size == 0 ? 0 : static_cast<uint8_t>(in[0]) % (size + 1);
  RequestReader reader(limits);
  std::string buffered;  // what the server keeps between reads
  for (std::string_view piece : {in.substr(0, split), in.substr(split)}) {
    buffered.append(piece);
    while (true) {
      std::optional<HttpRequest> req;
      size_t used = reader.read(buffered, req);
      if (used > buffered.size()) std::abort();
      buffered.erase(0, used);
      (void)reader.takeContinue();
      if (!req) break;
      if (req->body.size() > limits.max_body_bytes || req->path.empty()) std::abort();
      if (req->headers.size() > limits.max_headers) std::abort();
      std::string bytes = serializeResponse(router.dispatch(*req), req->keep_alive);
      if (bytes.rfind("HTTP/1.1 ", 0) != 0) std::abort();
      if (!req->keep_alive) return 0;  // the server closes: the rest is dropped
    }
    if (reader.failed()) {
      if (!kStatuses.contains(reader.failure().status) || reader.failure().reason.empty())
        std::abort();
      return 0;
    }
  }
  return 0;
}
