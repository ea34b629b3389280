// libcurl set up for one Kubernetes API server (kube_api_config.h: bearer token or client
// certificate, CA or insecure-skip-verify), shared by the informer's list/watch and the
// KubeApiStore's writes. `stopping` aborts a transfer within a second when it turns true.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <string>

#include "common/error.h"
#include "common/kube/kube_api_config.h"

namespace warren::kube {

// One easy handle with its header list; RAII.
struct CurlHandle {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  CurlHandle() = default;
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  ~CurlHandle() {
    if (headers) curl_slist_free_all(headers);
    if (h) curl_easy_cleanup(h);
  }
};

// URL, auth, TLS, Accept: application/json, and the abort check on `stopping` (may be null).
void configureCurl(CurlHandle& c, const KubeApiConfig& cfg, const std::string& url,
                   const std::atomic<bool>* stopping);

struct KubeResponse {
  long status = 0;
  std::string body;
};

// One request with an optional JSON body; a transport failure is kUnavailable naming the URL,
// any HTTP status is a successful Result.
Result<KubeResponse> kubeRequest(const KubeApiConfig& cfg, const std::string& method,
                                 const std::string& path, const std::string& json_body = "",
                                 const std::string& content_type = "application/json");

}  // namespace warren::kube
