#include "mesh/routing/endpoint_selector.h"

#include <algorithm>
#include <vector>

namespace warren::mesh {

namespace {

bool scopeMatches(LoadBalancingScope scope, const Workload& a, const Workload& b) {
  switch (scope) {
    case LoadBalancingScope::kRegion:
      return a.locality.region == b.locality.region;
    case LoadBalancingScope::kZone:
      return a.locality.zone == b.locality.zone;
    case LoadBalancingScope::kSubzone:
      return a.locality.subzone == b.locality.subzone;
    case LoadBalancingScope::kNode:
      return a.node == b.node;
    case LoadBalancingScope::kCluster:
      return a.cluster_id == b.cluster_id;
    case LoadBalancingScope::kNetwork:
      return a.network == b.network;
  }
  return false;
}

struct Candidate {
  const Workload* workload;
  uint16_t target_port;
  size_t rank;  // how many leading routing preferences it matches
};

}  // namespace

std::optional<net::IpAddress> pickAddress(const Workload& workload, bool prefer_v6) {
  for (const auto& ip : workload.addresses) {
    if (ip.isV6() == prefer_v6) return ip;
  }
  if (workload.addresses.empty()) return std::nullopt;
  return workload.addresses.front();
}

namespace {

// The endpoints selectEndpoint may choose from (health, port, network, routing preference).
std::vector<Candidate> candidatesFor(const StateSnapshot& snapshot, const Service& service,
                                     std::optional<uint16_t> service_port, const Workload& source) {
  const LoadBalancing* lb = service.load_balancing ? &*service.load_balancing : nullptr;
  bool allow_unhealthy = lb && lb->health_policy == HealthPolicy::kAllowAll;
  const std::vector<LoadBalancingScope> no_prefs;
  const auto& prefs = lb ? lb->routing_preference : no_prefs;
  bool strict = lb && lb->mode == LoadBalancingMode::kStrict;

  uint16_t service_target_port = 0;
  if (service_port) {
    const ServicePort* sp = service.findPort(*service_port);
    if (sp) service_target_port = sp->target_port;
  }

  std::vector<Candidate> candidates;
  candidates.reserve(snapshot.endpoints(service).size());
  size_t best_rank = 0;
  for (const auto& ep : snapshot.endpoints(service)) {
    const Workload& w = *ep.workload;
    if (!allow_unhealthy && w.status != WorkloadStatus::kHealthy) continue;
    if (w.addresses.empty() || w.network != source.network) continue;
    uint16_t target_port = 0;
    if (service_port) {
      auto it = ep.ports->find(*service_port);
      target_port = it != ep.ports->end() && it->second != 0 ? it->second : service_target_port;
      if (target_port == 0) continue;  // named port this endpoint does not expose
    }
    size_t rank = 0;
    while (rank < prefs.size() && scopeMatches(prefs[rank], source, w)) ++rank;
    if (strict && rank < prefs.size()) continue;
    best_rank = std::max(best_rank, rank);
    candidates.push_back({&w, target_port, rank});
  }
  if (!prefs.empty() && !strict) {
    std::erase_if(candidates, [&](const Candidate& c) { return c.rank < best_rank; });
  }
  return candidates;
}

// Weighted random by capacity (0 weights everywhere: uniform). `candidates` is not empty.
size_t drawWeighted(const std::vector<Candidate>& candidates, RandomSource& random) {
  uint64_t total = 0;
  for (const auto& c : candidates) total += c.workload->capacity;
  size_t chosen = 0;
  if (total == 0) {
    chosen = static_cast<size_t>(random.below(candidates.size()));
  } else {
    uint64_t r = random.below(total);
    while (r >= candidates[chosen].workload->capacity) {
      r -= candidates[chosen].workload->capacity;
      ++chosen;
    }
  }
  return chosen;
}

}  // namespace

std::optional<SelectedEndpoint> selectEndpoint(const StateSnapshot& snapshot,
                                               const Service& service,
                                               std::optional<uint16_t> service_port,
                                               const Workload& source, RandomSource& random) {
  auto candidates = candidatesFor(snapshot, service, service_port, source);
  if (candidates.empty()) return std::nullopt;
  const Candidate& c = candidates[drawWeighted(candidates, random)];
  return SelectedEndpoint{c.workload, c.target_port};
}

std::optional<SelectedEndpoint> selectEndpointLeastRequest(
    const StateSnapshot& snapshot, const Service& service, std::optional<uint16_t> service_port,
    const Workload& source, RandomSource& random, const ActiveRequests& active,
    const SkipEndpoint& skip) {
  auto candidates = candidatesFor(snapshot, service, service_port, source);
  if (skip) std::erase_if(candidates, [&](const Candidate& c) { return skip(*c.workload); });
  if (candidates.empty()) return std::nullopt;
  size_t first = drawWeighted(candidates, random);
  size_t chosen = first;
  if (candidates.size() > 1) {
    size_t second = drawWeighted(candidates, random);
    if (second == first)
      second = (first + 1 + random.below(candidates.size() - 1)) % candidates.size();
    if (active(*candidates[second].workload) < active(*candidates[first].workload)) chosen = second;
  }
  return SelectedEndpoint{candidates[chosen].workload, candidates[chosen].target_port};
}

}  // namespace warren::mesh
