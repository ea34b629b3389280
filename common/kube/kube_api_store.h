// ObjectStore over the Kubernetes API (REST, JSON): GET/LIST, POST to create, PUT to replace
// (the object's metadata.resourceVersion makes it conditional: 409 Conflict -> kConflict), PUT
// on the `status` subresource for status, DELETE with a uid precondition. Errors carry the
// API server's Status message.
#pragma once

#include <string>

#include "common/kube/kube_api_config.h"
#include "common/kube/object_store.h"

namespace warren::kube {

class KubeApiStore : public ObjectStore {
 public:
  explicit KubeApiStore(KubeApiConfig config) : config_(std::move(config)) {}

  Result<k8s::Object> get(const ObjectRef& ref) override;
  Result<std::vector<k8s::Object>> list(const std::string& api_version, const std::string& kind,
                                        const std::string& namespace_,
                                        const k8s::Labels& selector) override;
  Result<k8s::Object> create(const k8s::Object& obj) override;
  Result<k8s::Object> update(const k8s::Object& obj) override;
  Result<k8s::Object> updateStatus(const k8s::Object& obj) override;
  Status remove(const ObjectRef& ref, const std::string& uid = "") override;
  std::string describe() const override { return "Kubernetes API " + config_.server; }

  // "/apis/apps/v1/namespaces/shop/deployments[/name]" (name "" = the collection).
  static Result<std::string> pathOf(const std::string& api_version, const std::string& kind,
                                    const std::string& namespace_, const std::string& name);

 private:
  KubeApiConfig config_;
};

}  // namespace warren::kube
