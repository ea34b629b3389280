#include "common/http/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace warren::http {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

size_t appendBody(char* data, size_t size, size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(data, size * nmemb);
  return size * nmemb;
}

size_t captureContentType(char* data, size_t size, size_t nmemb, void* user) {
  std::string line(data, size * nmemb);
  static constexpr std::string_view kName = "content-type:";
  if (line.size() > kName.size()) {
    std::string lower = line.substr(0, kName.size());
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == kName) {
      std::string v = line.substr(kName.size());
      size_t b = v.find_first_not_of(" \t");
      size_t e = v.find_last_not_of(" \t\r\n");
      *static_cast<std::string*>(user) = b == std::string::npos ? "" : v.substr(b, e - b + 1);
    }
  }
  return size * nmemb;
}


// One request to `url` (through `unix_path` when non-empty); `where` names the server in errors.
Result<HttpResponse> perform(const std::string& url, const std::string& unix_path,
                             const std::string& where, const ClientRequest& request) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return fail(Error(ErrorCode::kInternal, "curl_easy_init failed"));
  CURL* c = curl.get();
  if (!unix_path.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path.c_str());
  HttpResponse response;
  char error_buf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never route admin calls through $http_proxy
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &captureContentType);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.content_type);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  // "Expect:" stops curl waiting for a 100-continue the server never sends.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  if (!request.content_type.empty())
    headers.reset(
        curl_slist_append(headers.release(), ("Content-Type: " + request.content_type).c_str()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  }

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string detail = error_buf[0] ? error_buf : curl_easy_strerror(rc);
    ErrorCode code = rc == CURLE_OPERATION_TIMEDOUT ? ErrorCode::kTimeout : ErrorCode::kUnavailable;
    return fail(
        Error(code, request.method + " " + request.target + " on " + where + ": " + detail));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace

Result<HttpResponse> httpRequest(const ListenAddress& server, const ClientRequest& request) {
  if (server.kind == ListenAddress::Kind::kUnix)
    return perform("http://localhost" + request.target, server.path, server.toString(), request);
  return perform("http://" + server.toString() + request.target, "", server.toString(), request);
}

Result<HttpResponse> httpRequestToOrigin(const std::string& origin, const ClientRequest& request) {
  return perform(origin + request.target, "", origin, request);
}

}  // namespace warren::http
