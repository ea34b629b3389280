// What `apply -f` writes, decided before anything is written: every object of the file is
// validated (typed decode of the core kinds, node names, ClusterIPs), Services get a ClusterIP,
// and re-applied Pods keep their identity and status when their spec did not change. Any
// error rejects the whole file, so nothing of it is applied. Pure apart from `new_uid`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/k8s/object.h"
#include "common/kube/manifest_store.h"

namespace warren::lab {

// Annotation on Deployment-owned pods: which Deployment, and the template they came from.
inline constexpr const char* kOwnerAnnotation = "warren.dev/owner";
inline constexpr const char* kTemplateHashAnnotation = "warren.dev/template-hash";

Result<std::vector<k8s::Object>> planApply(const std::vector<k8s::Object>& existing,
                                           const std::vector<k8s::Object>& incoming, int nodes,
                                           const std::function<std::string()>& new_uid);

// The stored objects `delete -f` removes: the named ones (missing ones are reported in
// `missing`), plus every namespaced object of a deleted Namespace.
std::vector<k8s::Object> planDelete(const std::vector<k8s::Object>& existing,
                                    const std::vector<k8s::Object>& incoming,
                                    std::vector<std::string>* missing);

using kube::ManifestStore;
using kube::randomUid;  // a random RFC 4122 version-4 UID

// A YAML node's canonical text, to compare specs.
std::string canonicalYaml(const YAML::Node& node);

}  // namespace warren::lab
