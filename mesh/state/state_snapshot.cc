#include "mesh/state/state_snapshot.h"

#include <algorithm>

namespace warren::mesh {

namespace {

Status validate(const Workload& w) {
  if (w.uid.empty()) return fail(Error::invalid("workload '" + w.name + "': empty uid"));
  if (w.namespace_.empty()) {
    return fail(Error::invalid("workload " + w.uid + ": empty namespace"));
  }
  // Trust domain, namespace and service account must make a SPIFFE ID: the identity every
  // certificate, expected peer and RBAC principal of this workload is.
  if (auto id = w.identity(); !id) {
    return fail(id.error().wrap("workload " + w.uid + ": trust_domain/service_account"));
  }
  return ok();
}

Status validate(const Service& s) {
  if (s.namespace_.empty() || s.hostname.empty()) {
    return fail(Error::invalid("service '" + s.key() + "': namespace and hostname are required"));
  }
  return ok();
}

Status validate(const Authorization& a) {
  if (a.name.empty() || a.namespace_.empty()) {
    return fail(
        Error::invalid("authorization '" + a.key() + "': namespace and name are required"));
  }
  return ok();
}

void addTo(PolicyList& list, const Authorization* p) {
  if (p->dry_run) {
    list.dry_run.push_back(p);
  } else if (p->action == AuthorizationAction::kDeny) {
    list.deny.push_back(p);
  } else {
    list.allow.push_back(p);
  }
}

const std::vector<Endpoint> kNoEndpoints;
const std::vector<const Service*> kNoServices;

}  // namespace

std::shared_ptr<const StateSnapshot> StateSnapshot::empty() {
  return std::make_shared<const StateSnapshot>();
}

StateSnapshot::ApplyResult StateSnapshot::apply(const StateUpdate& update) const {
  auto next = std::make_shared<StateSnapshot>();
  next->version_ = version_ + 1;
  next->workloads_ = workloads_;
  next->services_ = services_;
  next->policies_ = policies_;
  ApplyResult result;

  // Removals first, so "remove X, add X" in one push leaves X present (xDS allows both).
  for (const auto& name : update.removed_addresses) {
    if (next->workloads_.erase(name) == 0) next->services_.erase(name);
  }
  for (const auto& name : update.removed_policies) next->policies_.erase(name);

  for (const auto& w : update.workloads) {
    if (auto s = validate(w); !s) {
      result.rejected.push_back(s.error());
      continue;
    }
    next->workloads_[w.uid] = std::make_shared<const Workload>(w);
  }
  for (const auto& svc : update.services) {
    if (auto s = validate(svc); !s) {
      result.rejected.push_back(s.error());
      continue;
    }
    next->services_[svc.key()] = std::make_shared<const Service>(svc);
  }
  for (const auto& p : update.policies) {
    if (auto s = validate(p); !s) {
      result.rejected.push_back(s.error());
      continue;
    }
    next->policies_[p.key()] = std::make_shared<const Authorization>(p);
  }
  next->rebuildIndexes();
  result.snapshot = std::move(next);
  return result;
}

void StateSnapshot::rebuildIndexes() {
  // Workloads iterate in uid order; on an IP claimed twice (pod churn) the first uid keeps it,
  // so the answer does not depend on push order.
  std::string identity_key;
  for (const auto& [uid, w] : workloads_) {
    if (w->network_mode != NetworkMode::kHostNetwork) {
      for (const auto& ip : w->addresses) {
        workload_by_address_.try_emplace(NetworkAddress{w->network, ip}, w.get());
      }
    }
    for (const auto& [svc_key, ports] : w->services) {
      endpoints_[svc_key].push_back(Endpoint{w.get(), &ports});
    }
    // Workloads of one service account share one identity, made once per snapshot.
    identity_key.assign(w->trust_domain).append(1, '\0').append(w->namespace_);
    identity_key.append(1, '\0').append(w->service_account);
    auto known = identities_.find(identity_key);
    if (known == identities_.end()) {
      auto id = w->identity();
      if (!id) continue;  // validate() let in only workloads that have one
      known = identities_.emplace(identity_key, std::move(*id)).first;
    }
    identity_of_.emplace(w.get(), &known->second);
  }
  for (const auto& [key, svc] : services_) {
    for (const auto& vip : svc->addresses) service_by_vip_.try_emplace(vip, svc.get());
    services_by_hostname_[svc->hostname].push_back(svc.get());
  }
  for (const auto& [key, p] : policies_) {
    switch (p->scope) {
      case AuthorizationScope::kGlobal: addTo(global_policies_, p.get()); break;
      case AuthorizationScope::kNamespace:
        addTo(namespace_policies_[p->namespace_], p.get());
        break;
      case AuthorizationScope::kWorkloadSelector: break;  // bound through the workload's list
    }
  }
  for (const auto& [uid, w] : workloads_) {
    if (w->authorization_policies.empty()) continue;
    PolicyList list;
    for (const auto& key : w->authorization_policies) {
      auto it = policies_.find(key);
      // A listed policy that has not arrived (or was removed) is skipped, like ztunnel does.
      // A NAMESPACE/GLOBAL policy listed again would be counted twice: bind only selectors.
      if (it != policies_.end() && it->second->scope == AuthorizationScope::kWorkloadSelector) {
        addTo(list, it->second.get());
      }
    }
    if (!list.empty()) selected_policies_.emplace(uid, std::move(list));
  }
}

std::set<identity::SpiffeId> StateSnapshot::identitiesOnNode(std::string_view node) const {
  std::set<identity::SpiffeId> out;
  if (node.empty()) return out;  // a workload without a node is on none
  for (const auto& [w, id] : identity_of_)
    if (w->node == node) out.insert(*id);
  return out;
}

const identity::SpiffeId* StateSnapshot::identityOf(const Workload& workload) const {
  auto it = identity_of_.find(&workload);
  return it == identity_of_.end() ? nullptr : it->second;
}

Result<identity::SpiffeId> StateSnapshot::identity(const Workload& workload) const {
  if (const identity::SpiffeId* id = identityOf(workload)) return *id;
  return workload.identity();
}

const Workload* StateSnapshot::workloadByUid(std::string_view uid) const {
  auto it = workloads_.find(uid);
  return it == workloads_.end() ? nullptr : it->second.get();
}

const Workload* StateSnapshot::workloadByAddress(const NetworkAddress& address) const {
  auto it = workload_by_address_.find(address);
  return it == workload_by_address_.end() ? nullptr : it->second;
}

const Service* StateSnapshot::serviceByVip(const NetworkAddress& vip) const {
  auto it = service_by_vip_.find(vip);
  return it == service_by_vip_.end() ? nullptr : it->second;
}

const Service* StateSnapshot::serviceByHostname(std::string_view namespace_,
                                                std::string_view hostname) const {
  std::string key;
  key.reserve(namespace_.size() + 1 + hostname.size());
  key.append(namespace_).append("/").append(hostname);
  auto it = services_.find(key);
  return it == services_.end() ? nullptr : it->second.get();
}

const std::vector<const Service*>& StateSnapshot::servicesByHostname(
    std::string_view hostname) const {
  auto it = services_by_hostname_.find(hostname);
  return it == services_by_hostname_.end() ? kNoServices : it->second;
}

const std::vector<Endpoint>& StateSnapshot::endpoints(const Service& service) const {
  auto it = endpoints_.find(service.key());
  return it == endpoints_.end() ? kNoEndpoints : it->second;
}

const Authorization* StateSnapshot::policy(std::string_view key) const {
  auto it = policies_.find(key);
  return it == policies_.end() ? nullptr : it->second.get();
}

WorkloadPolicies StateSnapshot::policiesFor(const Workload& workload) const {
  WorkloadPolicies out;
  out.global = &global_policies_;
  if (auto it = namespace_policies_.find(workload.namespace_); it != namespace_policies_.end()) {
    out.namespace_scoped = &it->second;
  }
  if (auto it = selected_policies_.find(workload.uid); it != selected_policies_.end()) {
    out.selected = &it->second;
  }
  return out;
}

nlohmann::json StateSnapshot::toJson() const {
  nlohmann::json workloads = nlohmann::json::array();
  for (const auto& [uid, w] : workloads_) workloads.push_back(w->toJson());
  nlohmann::json services = nlohmann::json::array();
  for (const auto& [key, s] : services_) {
    nlohmann::json j = s->toJson();
    nlohmann::json eps = nlohmann::json::object();
    for (const auto& ep : endpoints(*s)) {
      nlohmann::json ports = nlohmann::json::object();
      for (auto [sp, tp] : *ep.ports) ports[std::to_string(sp)] = tp;
      eps[ep.workload->uid] = {{"workloadUid", ep.workload->uid},
                               {"status", toString(ep.workload->status)},
                               {"port", ports}};
    }
    j["endpoints"] = eps;
    services.push_back(std::move(j));
  }
  nlohmann::json policies = nlohmann::json::array();
  for (const auto& [key, p] : policies_) policies.push_back(p->toJson());
  return {{"version", version_},
          {"workloads", workloads},
          {"services", services},
          {"policies", policies}};
}

}  // namespace warren::mesh
