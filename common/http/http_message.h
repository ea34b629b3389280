// The request and response values handlers see. Plain data: the parser fills HttpRequest, a
// handler returns HttpResponse, and ResponseWriter turns it into bytes.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace warren::http {

struct HttpRequest {
  std::string method;  // "GET", "PUT", ... as sent (a token, case-sensitive)
  std::string path;    // the target without query or fragment, percent-decoded
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps the last value
  // Header names lower-cased; values as sent (repeated headers joined with ", ").
  std::map<std::string, std::string> headers;
  std::string body;
  bool keep_alive = true;  // false for "Connection: close" or HTTP/1.0 without keep-alive

  // The query value for `key`, or `fallback` when absent.
  std::string queryOr(const std::string& key, const std::string& fallback = "") const {
    auto it = query.find(key);
    return it == query.end() ? fallback : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (e.g. Allow)

  static HttpResponse text(int status, std::string body) {
    return HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
  }
  static HttpResponse json(int status, std::string body) {
    return HttpResponse{status, "application/json", std::move(body), {}};
  }
};

// "OK", "Not Found", ... (http1::reasonPhrase); "Unknown" for a code it does not name.
const char* statusReason(int status);

}  // namespace warren::http
