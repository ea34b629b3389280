#include "common/kube/kube_api_store.h"

#include <curl/curl.h>

#include "common/kube/kube_http.h"

namespace warren::kube {
namespace {

using nlohmann::json;

std::string escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

// An API server answer other than 2xx as an error: its Status message, kind by code.
Error apiError(const std::string& what, const KubeResponse& r) {
  json doc = json::parse(r.body, nullptr, false);
  std::string message = doc.is_object() ? doc.value("message", "") : "";
  if (message.empty()) message = r.body.substr(0, 200);
  const std::string text = what + ": HTTP " + std::to_string(r.status) + ": " + message;
  switch (r.status) {
    case 404:
      return Error(ErrorCode::kNotFound, text);
    case 409:
      // Create of an existing object says AlreadyExists; a stale update, Conflict.
      return Error(doc.is_object() && doc.value("reason", "") == "AlreadyExists"
                       ? ErrorCode::kAlreadyExists
                       : ErrorCode::kConflict,
                   text);
    case 401:
    case 403:
      return Error(ErrorCode::kPermissionDenied, text);
    case 400:
    case 422:
      return Error(ErrorCode::kInvalidArgument, text);
    default:
      return Error(ErrorCode::kUnavailable, text);
  }
}

Result<k8s::Object> objectFrom(const KubeResponse& r, const std::string& what,
                               const std::string& api_version, const std::string& kind) {
  json doc = json::parse(r.body, nullptr, false);
  if (!doc.is_object()) return fail(Error(ErrorCode::kProtocol, what + ": answer is not JSON"));
  if (!doc.contains("apiVersion")) doc["apiVersion"] = api_version;
  if (!doc.contains("kind")) doc["kind"] = kind;
  return k8s::fromJson(doc, what);
}

}  // namespace

Result<std::string> KubeApiStore::pathOf(const std::string& api_version, const std::string& kind,
                                         const std::string& namespace_, const std::string& name) {
  auto type = resourceType(api_version, kind);
  if (!type)
    return fail(Error::invalid(kind + " (" + api_version + ") is not a kind Warren writes"));
  std::string path =
      api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
  if (type->namespaced && !namespace_.empty()) path += "/namespaces/" + escape(namespace_);
  path += "/" + type->plural;
  if (!name.empty()) path += "/" + escape(name);
  return path;
}

Result<k8s::Object> KubeApiStore::get(const ObjectRef& ref) {
  auto path = pathOf(ref.api_version, ref.kind, ref.namespace_, ref.name);
  if (!path) return fail(path.error());
  auto r = kubeRequest(config_, "GET", *path);
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(apiError("get " + ref.describe(), *r));
  return objectFrom(*r, "get " + ref.describe(), ref.api_version, ref.kind);
}

Result<std::vector<k8s::Object>> KubeApiStore::list(const std::string& api_version,
                                                    const std::string& kind,
                                                    const std::string& namespace_,
                                                    const k8s::Labels& selector) {
  auto path = pathOf(api_version, kind, namespace_, "");
  if (!path) return fail(path.error());
  std::string sel;
  for (const auto& [k, v] : selector) sel += (sel.empty() ? "" : ",") + k + "=" + v;
  if (!sel.empty()) *path += "?labelSelector=" + escape(sel);
  auto r = kubeRequest(config_, "GET", *path);
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(apiError("list " + kind, *r));
  json doc = json::parse(r->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array())
    return fail(Error(ErrorCode::kProtocol, "list " + kind + ": answer is not a list"));
  std::vector<k8s::Object> out;
  for (auto& item : doc["items"]) {
    item["apiVersion"] = api_version;  // list items carry none
    item["kind"] = kind;
    auto obj = k8s::fromJson(item, "list " + kind);
    if (!obj) return fail(obj.error());
    out.push_back(std::move(*obj));
  }
  return out;
}

Result<k8s::Object> KubeApiStore::create(const k8s::Object& obj) {
  auto path = pathOf(obj.api_version, obj.kind, obj.meta.namespace_, "");
  if (!path) return fail(path.error());
  json body = k8s::toJson(obj);
  body["metadata"].erase("resourceVersion");
  body["metadata"].erase("uid");
  body["metadata"].erase("creationTimestamp");
  body["metadata"].erase("generation");
  auto r = kubeRequest(config_, "POST", *path, body.dump());
  if (!r) return fail(r.error());
  if (r->status != 200 && r->status != 201) return fail(apiError("create " + obj.describe(), *r));
  return objectFrom(*r, "create " + obj.describe(), obj.api_version, obj.kind);
}

Result<k8s::Object> KubeApiStore::update(const k8s::Object& obj) {
  auto path = pathOf(obj.api_version, obj.kind, obj.meta.namespace_, obj.meta.name);
  if (!path) return fail(path.error());
  auto r = kubeRequest(config_, "PUT", *path, k8s::toJson(obj).dump());
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(apiError("update " + obj.describe(), *r));
  return objectFrom(*r, "update " + obj.describe(), obj.api_version, obj.kind);
}

Result<k8s::Object> KubeApiStore::updateStatus(const k8s::Object& obj) {
  auto path = pathOf(obj.api_version, obj.kind, obj.meta.namespace_, obj.meta.name);
  if (!path) return fail(path.error());
  auto r = kubeRequest(config_, "PUT", *path + "/status", k8s::toJson(obj).dump());
  if (!r) return fail(r.error());
  if (r->status != 200) return fail(apiError("update status of " + obj.describe(), *r));
  return objectFrom(*r, "update status of " + obj.describe(), obj.api_version, obj.kind);
}

Status KubeApiStore::remove(const ObjectRef& ref, const std::string& uid) {
  auto path = pathOf(ref.api_version, ref.kind, ref.namespace_, ref.name);
  if (!path) return fail(path.error());
  std::string body;
  if (!uid.empty())
    body = json{{"apiVersion", "v1"},
                {"kind", "DeleteOptions"},
                {"preconditions", {{"uid", uid}}},
                {"propagationPolicy", "Background"}}
               .dump();
  auto r = kubeRequest(config_, "DELETE", *path, body);
  if (!r) return fail(r.error());
  if (r->status != 200 && r->status != 202) return fail(apiError("delete " + ref.describe(), *r));
  return ok();
}

}  // namespace warren::kube
