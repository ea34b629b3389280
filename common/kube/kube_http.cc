#include "common/kube/kube_http.h"

#include <string>

namespace warren::kube {

void configureCurl(CurlHandle& c, const KubeApiConfig& cfg, const std::string& url,
                   const std::atomic<bool>* stopping) {
  curl_easy_setopt(c.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c.h, CURLOPT_TCP_KEEPALIVE, 1L);
  c.headers = curl_slist_append(c.headers, "Accept: application/json");
  if (!cfg.token.empty())
    c.headers = curl_slist_append(c.headers, ("Authorization: Bearer " + cfg.token).c_str());
  curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
  if (!cfg.ca_file.empty()) curl_easy_setopt(c.h, CURLOPT_CAINFO, cfg.ca_file.c_str());
  if (!cfg.ca_pem.empty()) {
    curl_blob b{const_cast<char*>(cfg.ca_pem.data()), cfg.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(c.h, CURLOPT_CAINFO_BLOB, &b);
  }
  if (!cfg.client_cert_file.empty())
    curl_easy_setopt(c.h, CURLOPT_SSLCERT, cfg.client_cert_file.c_str());
  if (!cfg.client_key_file.empty())
    curl_easy_setopt(c.h, CURLOPT_SSLKEY, cfg.client_key_file.c_str());
  if (!cfg.client_cert_pem.empty()) {
    curl_blob b{const_cast<char*>(cfg.client_cert_pem.data()), cfg.client_cert_pem.size(),
                CURL_BLOB_COPY};
    curl_easy_setopt(c.h, CURLOPT_SSLCERT_BLOB, &b);
  }
  if (!cfg.client_key_pem.empty()) {
    curl_blob b{const_cast<char*>(cfg.client_key_pem.data()), cfg.client_key_pem.size(),
                CURL_BLOB_COPY};
    curl_easy_setopt(c.h, CURLOPT_SSLKEY_BLOB, &b);
  }
  if (cfg.insecure_skip_verify) {
    curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!stopping) return;
  // Abort promptly on stop(): curl calls this at least once a second, and on every chunk.
  curl_easy_setopt(c.h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c.h, CURLOPT_XFERINFODATA, stopping);
  curl_easy_setopt(
      c.h, CURLOPT_XFERINFOFUNCTION,
      +[](void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
        return static_cast<const std::atomic<bool>*>(p)->load() ? 1 : 0;
      });
}

Result<KubeResponse> kubeRequest(const KubeApiConfig& cfg, const std::string& method,
                                 const std::string& path, const std::string& json_body,
                                 const std::string& content_type) {
  const std::string url = cfg.server + path;
  CurlHandle c;
  configureCurl(c, cfg, url, nullptr);
  KubeResponse resp;
  curl_easy_setopt(c.h, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!json_body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    c.headers = curl_slist_append(c.headers, ("Content-Type: " + content_type).c_str());
    curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
    curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, json_body.c_str());
    curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE, static_cast<long>(json_body.size()));
  }
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(
      c.h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t, size_t n, void* ud) -> size_t {
        static_cast<std::string*>(ud)->append(p, n);
        return n;
      });
  curl_easy_setopt(c.h, CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(c.h);
  if (rc != CURLE_OK)
    return fail(Error(ErrorCode::kUnavailable, method + " " + url + ": " + curl_easy_strerror(rc)));
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

}  // namespace warren::kube
