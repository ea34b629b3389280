#include "agent/controller/leader_election.h"

#include <spdlog/spdlog.h>

namespace warren::agent {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

json leaseDoc(const LeaderElector::Options& o, const LeaseRecord& r) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", o.lease_name}, {"namespace", o.lease_namespace}}},
          {"spec",
           {{"holderIdentity", r.holder},
            {"leaseDurationSeconds", r.duration.count()},
            {"acquireTime", kube::rfc3339Micro(r.acquire_time)},
            {"renewTime", kube::rfc3339Micro(r.renew_time)},
            {"leaseTransitions", r.transitions}}}};
}

}  // namespace

LeaseAction decideLease(const std::optional<LeaseRecord>& lease, const std::string& self,
                        Clock::time_point now) {
  if (!lease) return LeaseAction::kCreate;
  if (!lease->holder.empty() && lease->holder == self) return LeaseAction::kRenew;
  if (lease->holder.empty() || lease->renew_time + lease->duration < now)
    return LeaseAction::kTakeOver;
  return LeaseAction::kFollow;
}

LeaseRecord leaseRecordOf(const k8s::Object& lease) {
  LeaseRecord r;
  k8s::Fields spec = k8s::Fields(lease, lease.node, "").child("spec");
  if (auto h = spec.str("holderIdentity")) r.holder = *h;
  if (auto d = spec.integer("leaseDurationSeconds", 0, 0, INT32_MAX))
    r.duration = std::chrono::seconds(*d);
  if (auto t = spec.str("acquireTime"); t && !t->empty())
    r.acquire_time = kube::parseRfc3339(*t).value_or(Clock::time_point{});
  if (auto t = spec.str("renewTime"); t && !t->empty())
    r.renew_time = kube::parseRfc3339(*t).value_or(Clock::time_point{});
  if (auto n = spec.integer("leaseTransitions", 0, 0, INT64_MAX)) r.transitions = *n;
  return r;
}

bool LeaderElector::tick(Clock::time_point now) {
  const kube::ObjectRef ref{"coordination.k8s.io/v1", "Lease", options_.lease_namespace,
                            options_.lease_name};
  const bool was_leading = leading_;
  last_error_.clear();
  auto current = store_.get(ref);
  std::optional<LeaseRecord> record;
  if (current) {
    record = leaseRecordOf(*current);
    holder_ = record->holder;
  } else if (current.error().code() != ErrorCode::kNotFound) {
    last_error_ = current.error().message();
    // Cannot read: keep leading only while our own last renewal is surely still valid.
    return leading_ = false;
  }
  LeaseAction action = decideLease(record, options_.identity, now);
  if (action == LeaseAction::kFollow) {
    if (was_leading) spdlog::info("controller: lost the lease to {}", record->holder);
    return leading_ = false;
  }
  LeaseRecord next;
  next.holder = options_.identity;
  next.duration = options_.lease_duration;
  next.renew_time = now;
  next.acquire_time = action == LeaseAction::kRenew ? record->acquire_time : now;
  next.transitions = record ? record->transitions + (action == LeaseAction::kTakeOver ? 1 : 0) : 0;
  auto doc = k8s::fromJson(leaseDoc(options_, next), "lease");
  if (!doc) {
    last_error_ = doc.error().message();
    return leading_ = false;
  }
  Result<k8s::Object> written = [&] {
    if (action == LeaseAction::kCreate) return store_.create(*doc);
    doc->meta.resource_version = current->meta.resource_version;
    doc->meta.uid = current->meta.uid;
    return store_.update(*doc);
  }();
  if (!written) {
    // Someone else wrote first (kConflict / kAlreadyExists): they lead this round.
    last_error_ = written.error().message();
    return leading_ = false;
  }
  holder_ = options_.identity;
  if (!was_leading)
    spdlog::info("controller: {} holds lease {}/{} (transitions {})", options_.identity,
                 options_.lease_namespace, options_.lease_name, next.transitions);
  return leading_ = true;
}

void LeaderElector::release(Clock::time_point now) {
  if (!leading_) return;
  leading_ = false;
  const kube::ObjectRef ref{"coordination.k8s.io/v1", "Lease", options_.lease_namespace,
                            options_.lease_name};
  auto current = store_.get(ref);
  if (!current || leaseRecordOf(*current).holder != options_.identity) return;
  LeaseRecord r = leaseRecordOf(*current);
  r.holder.clear();
  r.duration = std::chrono::seconds(1);
  r.renew_time = now;
  auto doc = k8s::fromJson(leaseDoc(options_, r), "lease");
  if (!doc) return;
  doc->meta.resource_version = current->meta.resource_version;
  if (auto w = store_.update(*doc); !w)
    spdlog::warn("controller: releasing the lease: {}", w.error().message());
  else
    spdlog::info("controller: {} released lease {}/{}", options_.identity, options_.lease_namespace,
                 options_.lease_name);
}

}  // namespace warren::agent
