// Fuzzes the admin server's request path: RequestParser over arbitrary bytes, split at a point
// chosen by the first input byte (so chunk boundaries are fuzzed too), every parsed request
// dispatched through a Router and serialised. Properties checked: no crash, a failure always
// has a 4xx status and a reason, and parsed requests respect the limits.
// fuzz-link: warren_http
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/http/request_parser.h"
#include "common/http/response_writer.h"
#include "common/http/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace warren::http;
  RequestLimits limits;
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
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t split = size == 0 ? 0 : static_cast<uint8_t>(in[0]) % (size + 1);
  RequestParser parser(limits);
  std::vector<HttpRequest> requests;
  bool ok = parser.feed(in.substr(0, split), requests);
  if (ok) ok = parser.feed(in.substr(split), requests);
  if (!ok) {
    int status = parser.failure().status;
    if (status < 400 || status > 499 || parser.failure().reason.empty()) std::abort();
  }
  for (const auto& req : requests) {
    if (req.body.size() > limits.max_body_bytes || req.path.empty()) std::abort();
    if (req.headers.size() > limits.max_headers) std::abort();
    std::string bytes = serializeResponse(router.dispatch(req), req.keep_alive);
    if (bytes.rfind("HTTP/1.1 ", 0) != 0) std::abort();
  }
  return 0;
}
