// Where Kubernetes objects are written: the one interface over the lab's manifest directory
// (ManifestStore) and the Kubernetes API (KubeApiStore), so the waypoint controller, its
// leader election and `warrenctl waypoint apply` work unchanged against either.
//
// Semantics are the API server's: create fails when the object exists (kAlreadyExists) and
// fills uid, resourceVersion, generation and creationTimestamp; update and updateStatus are
// conditional on the object's metadata.resourceVersion (kConflict when it moved on: read
// again and retry), update keeps the stored status and updateStatus changes nothing else;
// generation grows when anything but metadata and status changes. remove may be conditional on
// the uid (the object was not replaced meanwhile).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/k8s/object.h"

namespace warren::kube {

struct ObjectRef {
  std::string api_version;  // "v1", "apps/v1", "gateway.networking.k8s.io/v1"
  std::string kind;
  std::string namespace_;  // "" for cluster-scoped kinds
  std::string name;

  static ObjectRef of(const k8s::Object& obj) {
    return {obj.api_version, obj.kind, obj.meta.namespace_, obj.meta.name};
  }
  // "Deployment shop/waypoint"
  std::string describe() const {
    return kind + " " + (namespace_.empty() ? name : namespace_ + "/" + name);
  }
};

// A Kubernetes resource: the REST collection of a kind.
struct ResourceType {
  std::string api_version;
  std::string kind;
  std::string plural;  // "deployments"
  bool namespaced = true;
};
// The kinds Warren writes or watches; nullopt for others.
std::optional<ResourceType> resourceType(const std::string& api_version, const std::string& kind);

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Result<k8s::Object> get(const ObjectRef& ref) = 0;
  // Objects of one kind in `namespace_` ("" = all namespaces) carrying every label of
  // `selector`.
  virtual Result<std::vector<k8s::Object>> list(const std::string& api_version,
                                                const std::string& kind,
                                                const std::string& namespace_,
                                                const k8s::Labels& selector) = 0;
  virtual Result<k8s::Object> create(const k8s::Object& obj) = 0;
  virtual Result<k8s::Object> update(const k8s::Object& obj) = 0;
  virtual Result<k8s::Object> updateStatus(const k8s::Object& obj) = 0;
  // kNotFound when absent; with `uid`, kConflict when the stored object has another.
  virtual Status remove(const ObjectRef& ref, const std::string& uid = "") = 0;
  virtual std::string describe() const = 0;
};

// RFC 3339 UTC with seconds ("2026-11-22T10:00:00Z") and with microseconds (Lease times,
// "2026-11-22T10:00:00.123456Z").
std::string rfc3339(std::chrono::system_clock::time_point t);
std::string rfc3339Micro(std::chrono::system_clock::time_point t);
// Parses either form; nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parseRfc3339(const std::string& text);

}  // namespace warren::kube
