// StateSnapshot: one immutable, self-consistent view of the mesh (workloads, services,
// authorization policies) with every index routing and RBAC need. A delta xDS update never
// mutates a snapshot: `apply` builds a NEW one (resources are shared between generations
// through shared_ptr<const T>, so only the indexes are rebuilt), which SnapshotStore then
// publishes with one pointer swap. Readers keep their shared_ptr for as long as they
// use it, so nothing they point into can change or go away under them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "mesh/state/authorization.h"
#include "mesh/state/service.h"
#include "mesh/state/workload.h"

namespace warren::mesh {

// One delta xDS push, already converted to mesh types. Resource names follow the workload
// xDS conventions: a Workload is named by its uid, a Service by "namespace/hostname", an
// Authorization by "namespace/name". `removed_addresses` may name either kind of Address.
struct StateUpdate {
  std::vector<Workload> workloads;
  std::vector<Service> services;
  std::vector<std::string> removed_addresses;
  std::vector<Authorization> policies;
  std::vector<std::string> removed_policies;
};

// A service endpoint: a workload that lists the service, with its own port mapping.
struct Endpoint {
  const Workload* workload = nullptr;
  const PortMap* ports = nullptr;  // the workload's entry for this service
};

// Policies of one kind, split so the enforcement loop never looks at dry-run entries.
struct PolicyList {
  std::vector<const Authorization*> deny;
  std::vector<const Authorization*> allow;
  std::vector<const Authorization*> dry_run;
  bool empty() const { return deny.empty() && allow.empty() && dry_run.empty(); }
};

// Everything that applies to one workload, precomputed: GLOBAL-scoped policies, its
// namespace's NAMESPACE-scoped ones, and the selector policies the workload lists.
struct WorkloadPolicies {
  const PolicyList* global = nullptr;
  const PolicyList* namespace_scoped = nullptr;
  const PolicyList* selected = nullptr;
};

class StateSnapshot {
 public:
  // Rejected resources are reported here and left out; the rest of the update is applied.
  struct ApplyResult {
    std::shared_ptr<const StateSnapshot> snapshot;
    std::vector<Error> rejected;
  };

  StateSnapshot() = default;
  // Not copyable: its indexes point into its own resources and identities.
  StateSnapshot(const StateSnapshot&) = delete;
  StateSnapshot& operator=(const StateSnapshot&) = delete;

  static std::shared_ptr<const StateSnapshot> empty();
  ApplyResult apply(const StateUpdate& update) const;

  uint64_t version() const { return version_; }

  const Workload* workloadByUid(std::string_view uid) const;
  // Host-network workloads are never found by IP (their IP is the node's; INTEROP §10).
  const Workload* workloadByAddress(const NetworkAddress& address) const;
  const Service* serviceByVip(const NetworkAddress& vip) const;
  const Service* serviceByHostname(std::string_view namespace_, std::string_view hostname) const;
  // Every service with this hostname, in any namespace (sorted by namespace).
  const std::vector<const Service*>& servicesByHostname(std::string_view hostname) const;
  // Endpoints of a service, ordered by workload uid (deterministic load balancing in tests).
  const std::vector<Endpoint>& endpoints(const Service& service) const;
  const Authorization* policy(std::string_view key) const;
  WorkloadPolicies policiesFor(const Workload& workload) const;
  // The identities of the workloads xDS places on `node` (Workload.node): the certificates a
  // node proxy fetches before any connection needs them (INTEROP §12 "Scheduling"). Made when
  // asked (a node proxy asks once per snapshot, for its own node), not kept for every node.
  std::set<identity::SpiffeId> identitiesOnNode(std::string_view node) const;
  // The identity of one of this snapshot's workloads (Workload::identity(), made once per
  // snapshot: a proxy asks it per request or connection); null for a workload not in it.
  const identity::SpiffeId* identityOf(const Workload& workload) const;
  // The same as a value, made on the spot for a workload the snapshot does not hold (an
  // error then names what is wrong with its trust domain, namespace or service account).
  Result<identity::SpiffeId> identity(const Workload& workload) const;

  size_t workloadCount() const { return workloads_.size(); }
  size_t serviceCount() const { return services_.size(); }
  size_t policyCount() const { return policies_.size(); }

  // The /config_dump form: {"version", "workloads": [...], "services": [...], "policies": [...]}.
  nlohmann::json toJson() const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  void rebuildIndexes();

  uint64_t version_ = 0;
  // Owned resources, ordered by name so dumps and endpoint lists are deterministic.
  std::map<std::string, std::shared_ptr<const Workload>, std::less<>> workloads_;
  std::map<std::string, std::shared_ptr<const Service>, std::less<>> services_;
  std::map<std::string, std::shared_ptr<const Authorization>, std::less<>> policies_;

  // Indexes: raw pointers into the resources above, rebuilt by every apply.
  std::unordered_map<NetworkAddress, const Workload*, NetworkAddressHash> workload_by_address_;
  std::unordered_map<NetworkAddress, const Service*, NetworkAddressHash> service_by_vip_;
  StringMap<std::vector<const Service*>> services_by_hostname_;
  StringMap<std::vector<Endpoint>> endpoints_;  // service key -> endpoints
  PolicyList global_policies_;
  StringMap<PolicyList> namespace_policies_;
  StringMap<PolicyList> selected_policies_;  // workload uid -> its listed policies
  // The distinct identities of the workloads (one per trust domain, namespace and service
  // account), and each workload's among them.
  StringMap<identity::SpiffeId> identities_;
  std::unordered_map<const Workload*, const identity::SpiffeId*> identity_of_;
};

}  // namespace warren::mesh
