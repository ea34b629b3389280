// `warrenctl waypoint generate|apply|delete` (cf. `istioctl waypoint`): the waypoint Gateway
// itself, and writing it where the cluster keeps its objects. list and status read the agent
// admin API like every other view (main.cc, resource_tables.h).
//
// Where apply/delete write (chooseObjectStore, pure): --manifests DIR; else the lab's manifest
// directory (--lab-dir, $WARREN_LAB_DIR, or /run/warren-lab when it holds a lab); else the
// Kubernetes API from $KUBECONFIG / ~/.kube/config / in-cluster credentials.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/k8s/object.h"
#include "common/kube/object_store.h"

namespace warren::ctl {

struct WaypointSpec {
  std::string name = "waypoint";
  std::string namespace_ = "default";
  std::string traffic_type = "service";  // --for: service | workload | all | none
};

Status validateWaypointSpec(const WaypointSpec& spec);

// The Gateway, as YAML (what `generate` prints, in a readable order) and as an object.
std::string waypointGatewayYaml(const WaypointSpec& spec);
Result<k8s::Object> waypointGateway(const WaypointSpec& spec);

struct StoreChoice {
  enum class Kind { kManifestDir, kKubernetesApi } kind = Kind::kKubernetesApi;
  std::string path;  // the manifest directory
  std::string how;   // "from --manifests", "the lab in /run/warren-lab", ...
};
// `lab_dir_exists(dir)`: does <dir>/manifests exist (injected for tests).
StoreChoice chooseObjectStore(const std::optional<std::string>& manifests_flag,
                              const std::optional<std::string>& lab_dir_flag,
                              const std::optional<std::string>& lab_dir_env,
                              bool (*lab_dir_exists)(const std::string& dir));
Result<std::unique_ptr<kube::ObjectStore>> openObjectStore(const StoreChoice& choice);

// Creates the Gateway, or updates it when it exists. Returns what was done, for the user.
Result<std::string> applyWaypoint(kube::ObjectStore& store, const WaypointSpec& spec);
// Labels the namespace warren.dev/use-waypoint=<name> (creating the Namespace in a manifest
// directory, where namespaces may exist only implicitly).
Result<std::string> enrollNamespace(kube::ObjectStore& store, const WaypointSpec& spec);
// Deletes the Gateway `spec.name` (kNotFound when absent), or with `all` every warren-waypoint
// Gateway of the namespace.
Result<std::string> deleteWaypoints(kube::ObjectStore& store, const WaypointSpec& spec, bool all);

}  // namespace warren::ctl
