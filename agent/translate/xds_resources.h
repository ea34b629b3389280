// The full set of xDS resources for one cluster snapshot, per type URL, each with a version
// derived from its bytes (so an unchanged resource keeps its version and is not re-sent):
// istio.workload.Address, istio.security.Authorization (with the waypoints' implicit ALLOW
// policies), warren.l7.v1.ServiceRoutes and warren.l7.v1.WaypointPolicy (both scoped to the
// waypoint each is for).
// Pure: buildXdsResources(snapshot) is what the xDS servers hand their subscribers.
#pragma once

#include <google/protobuf/any.pb.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/cluster_snapshot.h"
#include "agent/translate/route_translation.h"
#include "agent/translate/waypoint_policy_translation.h"
#include "agent/translate/workload_translation.h"

namespace warren::agent {

inline constexpr const char* kAddressTypeUrl = "type.googleapis.com/istio.workload.Address";
inline constexpr const char* kAuthorizationTypeUrl =
    "type.googleapis.com/istio.security.Authorization";

struct XdsResource {
  std::string version;  // hex digest of the serialised resource
  std::vector<std::string> aliases;
  // The resource itself, shared: a build that keeps a resource (XdsTranslationCache) and the
  // stores and streams that hold earlier builds do not copy its bytes.
  std::shared_ptr<const google::protobuf::Any> body;
  // Who may receive it: "" = every subscriber; else the waypoint ("<ns>/<gateway>") it is for.
  // Streams on the node socket see everything; a waypoint's stream on the proxy socket sees
  // "" and its own scope (DeltaXdsService's stream scope).
  std::string scope;
};

// type URL -> resource name -> resource.
using XdsResourceMap = std::map<std::string, std::map<std::string, XdsResource>>;

struct XdsBuild {
  XdsResourceMap resources;
  std::vector<std::string> notes;   // things left out, for the log (debug)
  std::vector<std::string> errors;  // errors on policies, for the log (warn) and the admin API
};

// SHA-256 of `bytes`, its first 8 bytes in hex: the version of a resource by its content
// (xDS versions; the controller's spec-hash annotation).
std::string contentVersion(const std::string& bytes);

class XdsTranslationCache;

// Every resource of the snapshot. With a cache, what the cache holds for an unchanged pod (and,
// while nothing but pods changed, for everything else) is taken from it rather than
// translated again; the result is the same either way (tests/agent/translation_cache_test.cc).
XdsBuild buildXdsResources(const ClusterSnapshot& snapshot, const TranslationContext& ctx,
                           XdsTranslationCache* cache = nullptr);

// What one build keeps for the next, so that a change to some pods translates only those pods:
// each pod's resource and notes, under the pod object it came from (the snapshots share an
// unchanged pod, ClusterSnapshot::pods), and every resource that is not a pod's, valid while
// the snapshot's context_generation and the TranslationContext stay the same. The implicit
// waypoint policies, the only resources that read pods besides a pod's own, are always made
// anew. Used by one builder at a time.
class XdsTranslationCache {
 public:
  size_t podsTranslated() const { return pods_translated_; }  // by the last build
  size_t podsReused() const { return pods_reused_; }

 private:
  friend XdsBuild buildXdsResources(const ClusterSnapshot&, const TranslationContext&,
                                    XdsTranslationCache*);
  struct Pod {
    std::shared_ptr<const k8s::Pod> source;
    std::string name;                     // the Address resource's name (the workload uid)
    std::optional<XdsResource> resource;  // none: the pod is not a workload (no IP, done)
    std::vector<std::string> notes;
  };
  bool valid_ = false;
  uint64_t context_generation_ = 0;
  TranslationContext ctx_;
  std::map<std::string, Pod> pods_;  // snapshot key -> its translation
  XdsBuild others_;                  // every resource that is not a pod's, notes and errors
  size_t pods_translated_ = 0;
  size_t pods_reused_ = 0;
};

}  // namespace warren::agent
