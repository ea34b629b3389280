// One immutable view of the cluster as the agent knows it. The model publishes a new snapshot
// (shared_ptr<const>) on every change; readers never lock and never see a half-applied update.
// Keys: namespaced kinds by "ns/name", Namespaces by name.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <ranges>
#include <set>
#include <string>

#include "agent/model/destination_rule_kinds.h"
#include "agent/model/gateway_kinds.h"
#include "agent/model/network_kinds.h"
#include "agent/model/route_kinds.h"
#include "agent/model/security_kinds.h"
#include "agent/model/traffic_kinds.h"
#include "common/k8s/core.h"

namespace warren::agent {

// The latest version of an object that did not decode. The typed maps keep its last good
// version (when there was one), so what worked keeps working; this version and the error go
// to the controller (status conditions) and the admin API.
struct RejectedObject {
  k8s::Object object;
  std::string error;  // names file, object and field
};

struct ClusterSnapshot {
  uint64_t generation = 0;  // bumps by one per published change
  // Bumps with every change to anything but Pods: while it stands, a pod's translation depends
  // on nothing but the pod (buildXdsResources' cache; a pod's translation reads the namespaces,
  // Services, policies and Gateways, never another pod).
  uint64_t context_generation = 0;
  std::map<std::string, k8s::Namespace> namespaces;
  // Shared between snapshots: a change replaces the pod's pointer, so a pod the change did not
  // touch is the very same object in the next snapshot (no deep copy of every pod per change,
  // and what the translation cache recognises).
  std::map<std::string, std::shared_ptr<const k8s::Pod>> pods;
  std::map<std::string, k8s::Service> services;
  std::map<std::string, k8s::ServiceAccount> service_accounts;
  std::map<std::string, EndpointSlice> endpoint_slices;
  std::map<std::string, AuthorizationPolicy> authorization_policies;
  std::map<std::string, PeerAuthentication> peer_authentications;
  std::map<std::string, RequestAuthentication> request_authentications;
  std::map<std::string, TrafficPolicy> traffic_policies;  // warren.dev/v1alpha1
  std::map<std::string, DestinationRule> destination_rules;  // networking.istio.io
  std::map<std::string, Gateway> gateways;
  std::map<std::string, Route> http_routes;
  std::map<std::string, Route> grpc_routes;
  std::map<std::string, RejectedObject> rejected;  // keyed by Object::key(): "Kind/ns/name"
  // Which kinds the config source has listed completely at least once (a replace_all update;
  // one without replace_kinds lists every kind).
  bool all_kinds_listed = false;
  std::set<std::string> listed_kinds;
  bool listed(const std::string& kind) const {
    return all_kinds_listed || listed_kinds.contains(kind);
  }

  // Labels of a namespace (empty when the Namespace object is unknown).
  const k8s::Labels& namespaceLabels(const std::string& ns) const;
  // The Gateway "ns/name" when it exists and is of class warren-waypoint; else null.
  const Gateway* waypointGateway(const std::string& ns, const std::string& name) const;
};

using SnapshotPtr = std::shared_ptr<const ClusterSnapshot>;

// The entries of one of the snapshot's namespaced maps (keyed "namespace/name") that are in
// namespace `ns`, in key order: a contiguous range, since '/' sorts right before '0'. What
// depends on a pod's namespace alone (the Services selecting it, its policies) looks here, not
// through every namespace's objects.
template <class Map>
auto inNamespace(const Map& map, const std::string& ns) {
  return std::ranges::subrange(map.lower_bound(ns + "/"), map.lower_bound(ns + "0"));
}

}  // namespace warren::agent
