#include "agent/config/kube_api_informer.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "common/kube/kube_http.h"

namespace warren::agent {
namespace {

using json = nlohmann::json;

constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(10000);
constexpr int kListPageSize = 500;

// Our marker for "resourceVersion too old" (HTTP 410 or a watch ERROR event with code 410).
bool isExpired(const Error& e) {
  return e.code() == ErrorCode::kTimeout && e.context().find("410") != std::string::npos;
}

// Turns one list item / watch object into a k8s::Object (kind and apiVersion filled in).
Result<k8s::Object> toObject(json item, const KubeResource& res, const std::string& source) {
  if (!item.is_object()) return fail(Error::invalid(source + ": item is not an object"));
  if (!item.contains("kind")) item["kind"] = res.kind;
  if (!item.contains("apiVersion")) item["apiVersion"] = res.api_version;
  // JSON is YAML: the shared manifest parser validates and names errors.
  auto objs = k8s::parseManifests(item.dump(), source);
  if (!objs) return fail(objs.error());
  if (objs->size() != 1) return fail(Error::invalid(source + ": expected one object"));
  return std::move(objs->front());
}

std::string withQuery(const std::string& path, const std::string& query) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
}

}  // namespace

std::vector<KubeResource> defaultKubeResources() {
  return {
      {"/api/v1/namespaces", "v1", "Namespace"},
      {"/api/v1/pods", "v1", "Pod"},
      {"/api/v1/services", "v1", "Service"},
      {"/api/v1/serviceaccounts", "v1", "ServiceAccount"},
      {"/apis/discovery.k8s.io/v1/endpointslices", "discovery.k8s.io/v1", "EndpointSlice"},
      {"/apis/security.istio.io/v1/authorizationpolicies", "security.istio.io/v1",
       "AuthorizationPolicy"},
      {"/apis/security.istio.io/v1/peerauthentications", "security.istio.io/v1",
       "PeerAuthentication"},
      {"/apis/security.istio.io/v1/requestauthentications", "security.istio.io/v1",
       "RequestAuthentication"},
      {"/apis/warren.dev/v1alpha1/authorizationpolicies", "warren.dev/v1alpha1",
       "AuthorizationPolicy"},
      {"/apis/warren.dev/v1alpha1/peerauthentications", "warren.dev/v1alpha1",
       "PeerAuthentication"},
      {"/apis/warren.dev/v1alpha1/trafficpolicies", "warren.dev/v1alpha1", "TrafficPolicy"},
      {"/apis/networking.istio.io/v1/destinationrules", "networking.istio.io/v1",
       "DestinationRule"},
      {"/apis/gateway.networking.k8s.io/v1/gateways", "gateway.networking.k8s.io/v1", "Gateway"},
      {"/apis/gateway.networking.k8s.io/v1/httproutes", "gateway.networking.k8s.io/v1",
       "HTTPRoute"},
      {"/apis/gateway.networking.k8s.io/v1/grpcroutes", "gateway.networking.k8s.io/v1",
       "GRPCRoute"},
  };
}

KubeApiInformer::KubeApiInformer(KubeApiConfig config, std::vector<KubeResource> resources,
                                 std::chrono::seconds watch_timeout)
    : config_(std::move(config)), resources_(std::move(resources)), watch_timeout_(watch_timeout) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

KubeApiInformer::~KubeApiInformer() { stop(); }

Status KubeApiInformer::start(UpdateCallback cb) {
  if (config_.server.empty()) return fail(Error::invalid("Kubernetes API: no server"));
  cb_ = std::move(cb);
  for (const KubeResource& r : resources_) threads_.emplace_back([this, r] { runResource(r); });
  return ok();
}

void KubeApiInformer::stop() {
  stopping_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void KubeApiInformer::deliver(ConfigUpdate u) {
  std::lock_guard lock(cb_mu_);
  if (!stopping_) cb_(std::move(u));
}

bool KubeApiInformer::sleepUnlessStopped(std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_ && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return !stopping_;
}

void KubeApiInformer::runResource(const KubeResource& res) {
  auto backoff = kMinBackoff;
  std::string rv;
  bool need_list = true;
  while (!stopping_) {
    if (need_list) {
      auto listed = list(res);
      if (!listed) {
        if (stopping_) return;
        stats_.errors++;
        spdlog::warn("kube api: list {}: {} (retrying in {} ms)", res.path,
                     listed.error().message(), backoff.count());
        if (!sleepUnlessStopped(backoff)) return;
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      rv = *listed;
      need_list = false;
    }
    Status w = watch(res, rv);
    if (stopping_) return;
    if (w) {
      backoff = kMinBackoff;  // a clean end (server timeout): watch again from rv
      continue;
    }
    if (isExpired(w.error())) {
      stats_.expired++;
      spdlog::info("kube api: watch {} expired at resourceVersion {}; re-listing", res.path, rv);
      need_list = true;
      continue;
    }
    stats_.errors++;
    spdlog::warn("kube api: watch {}: {} (resuming from {} in {} ms)", res.path,
                 w.error().message(), rv, backoff.count());
    if (!sleepUnlessStopped(backoff)) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

Result<std::string> KubeApiInformer::list(const KubeResource& res) {
  stats_.lists++;
  ConfigUpdate all;
  all.replace_all = true;
  all.replace_kinds = {res.kind};
  std::string cont, rv;
  for (int page = 0; page < 10000; ++page) {
    std::string query = "limit=" + std::to_string(kListPageSize);
    if (!cont.empty()) {
      char* esc = curl_easy_escape(nullptr, cont.c_str(), static_cast<int>(cont.size()));
      query += "&continue=" + std::string(esc);
      curl_free(esc);
    }
    const std::string url = config_.server + withQuery(res.path, query);
    kube::CurlHandle c;
    std::string body;
    kube::configureCurl(c, config_, url, &stopping_);
    curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(
        c.h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t, size_t n, void* ud) -> size_t {
          static_cast<std::string*>(ud)->append(p, n);
          return n;
        });
    curl_easy_setopt(c.h, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c.h);
    if (rc != CURLE_OK)
      return fail(Error(ErrorCode::kUnavailable, url + ": " + curl_easy_strerror(rc)));
    long status = 0;
    curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 410)
      return fail(Error(ErrorCode::kTimeout, url + ": 410 Gone (continue token expired)"));
    if (status == 404 && page == 0) {
      // The kind is not installed (CRD absent): an empty list, checked again after a while.
      deliver(std::move(all));
      if (!sleepUnlessStopped(std::chrono::seconds(30))) return std::string();
      return fail(Error(ErrorCode::kNotFound, url + ": 404 (re-checking)"));
    }
    if (status != 200)
      return fail(Error(ErrorCode::kUnavailable,
                        url + ": HTTP " + std::to_string(status) + ": " + body.substr(0, 200)));
    json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
      return fail(Error::invalid(url + ": response is not JSON"));
    rv = doc.value("/metadata/resourceVersion"_json_pointer, std::string());
    cont = doc.value("/metadata/continue"_json_pointer, std::string());
    if (doc.contains("items") && doc["items"].is_array()) {
      size_t i = 0;
      for (auto& item : doc["items"]) {
        auto obj = toObject(item, res, url + " items[" + std::to_string(i++) + "]");
        if (!obj) {
          all.errors.push_back(obj.error());
          continue;
        }
        all.upserts.push_back(std::move(*obj));
      }
    }
    if (cont.empty()) break;
  }
  spdlog::debug("kube api: listed {} {} at resourceVersion {}", all.upserts.size(), res.path, rv);
  deliver(std::move(all));
  return rv;
}

Status KubeApiInformer::watch(const KubeResource& res, std::string& rv) {
  stats_.watches++;
  const std::string url =
      config_.server +
      withQuery(res.path, "watch=1&allowWatchBookmarks=true&resourceVersion=" + rv +
                              "&timeoutSeconds=" + std::to_string(watch_timeout_.count()));
  struct WatchState {
    KubeApiInformer* self;
    const KubeResource* res;
    std::string* rv;
    std::string buf;
    std::optional<Error> error;
    std::string url;
  } st{this, &res, &rv, {}, std::nullopt, url};
  kube::CurlHandle c;
  kube::configureCurl(c, config_, url, &stopping_);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &st);
  // Watch events are newline-delimited JSON objects; a chunk may hold part of one or several.
  curl_easy_setopt(
      c.h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t, size_t n, void* ud) -> size_t {
        auto* s = static_cast<WatchState*>(ud);
        s->buf.append(p, n);
        size_t nl;
        while ((nl = s->buf.find('\n')) != std::string::npos) {
          std::string line = s->buf.substr(0, nl);
          s->buf.erase(0, nl + 1);
          if (line.empty()) continue;
          json ev = json::parse(line, nullptr, false);
          if (ev.is_discarded() || !ev.is_object()) {
            s->error = Error(ErrorCode::kProtocol, s->url + ": watch event is not JSON");
            return 0;
          }
          const std::string type = ev.value("type", "");
          json& obj = ev["object"];
          if (type == "ERROR") {
            int code = obj.is_object() ? obj.value("code", 0) : 0;
            std::string msg = obj.is_object() ? obj.value("message", "") : "";
            s->error = Error(code == 410 ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                             s->url + ": watch error " + std::to_string(code) + ": " + msg);
            return 0;
          }
          std::string new_rv =
              obj.is_object() ? obj.value("/metadata/resourceVersion"_json_pointer, std::string())
                              : "";
          if (type == "BOOKMARK") {
            s->self->stats_.bookmarks++;
            if (!new_rv.empty()) *s->rv = new_rv;
            continue;
          }
          ConfigUpdate u;
          auto o = toObject(obj, *s->res, s->url);
          if (!o) {
            u.errors.push_back(o.error());
          } else if (type == "ADDED" || type == "MODIFIED") {
            u.upserts.push_back(std::move(*o));
          } else if (type == "DELETED") {
            u.deletes.push_back(o->key());
          }
          if (!new_rv.empty()) *s->rv = new_rv;
          s->self->deliver(std::move(u));
        }
        return n;
      });
  CURLcode rc = curl_easy_perform(c.h);
  if (st.error) return fail(*st.error);
  long status = 0;
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
  if (status == 410) return fail(Error(ErrorCode::kTimeout, url + ": 410 Gone"));
  if (rc != CURLE_OK)
    return fail(Error(ErrorCode::kUnavailable, url + ": " + curl_easy_strerror(rc)));
  if (status != 200)
    return fail(Error(ErrorCode::kUnavailable, url + ": HTTP " + std::to_string(status)));
  return ok();
}

}  // namespace warren::agent
