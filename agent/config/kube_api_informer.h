// Informer over the Kubernetes API: for each kind, list (paginated) then watch from the
// list's resourceVersion with bookmarks; a dropped watch resumes from the last seen
// resourceVersion; 410 Gone (as an HTTP status or a watch ERROR event) re-lists that kind
// (a per-kind replace_all update); other errors back off (100 ms doubling to 10 s).
// Pods are watched cluster-wide: the xDS resources need every node's workloads.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/config/informer.h"
#include "common/kube/kube_api_config.h"

namespace warren::agent {

using kube::discoverKubeApiConfig;
using kube::inClusterConfig;
using kube::KubeApiConfig;
using kube::kubeconfigFile;

struct KubeResource {
  std::string path;         // "/api/v1/pods", "/apis/security.istio.io/v1/authorizationpolicies"
  std::string api_version;  // set on list items, which carry none
  std::string kind;
};

// Namespace, Pod, Service, EndpointSlice, ServiceAccount, AuthorizationPolicy and
// PeerAuthentication (security.istio.io/v1 and warren.dev/v1alpha1), Gateway, HTTPRoute.
std::vector<KubeResource> defaultKubeResources();

class KubeApiInformer : public Informer {
 public:
  struct Stats {
    std::atomic<uint64_t> lists{0}, watches{0}, expired{0}, bookmarks{0}, errors{0};
  };

  KubeApiInformer(KubeApiConfig config,
                  std::vector<KubeResource> resources = defaultKubeResources(),
                  std::chrono::seconds watch_timeout = std::chrono::seconds(300));
  ~KubeApiInformer() override;

  Status start(UpdateCallback cb) override;
  void stop() override;
  std::string describe() const override { return "Kubernetes API " + config_.server; }

  const Stats& stats() const { return stats_; }

 private:
  void runResource(const KubeResource& res);
  // Returns the list's resourceVersion, or an error (kUnavailable for transport, 410 as
  // kNotFound... see .cc).
  Result<std::string> list(const KubeResource& res);
  // Watches until the stream ends; updates `rv`. Returns an error on 410 (kTimeout code
  // reused as "expired") or transport failure.
  Status watch(const KubeResource& res, std::string& rv);
  void deliver(ConfigUpdate u);
  bool sleepUnlessStopped(std::chrono::milliseconds d);

  KubeApiConfig config_;
  std::vector<KubeResource> resources_;
  std::chrono::seconds watch_timeout_;
  UpdateCallback cb_;
  std::mutex cb_mu_;  // one update at a time reaches the model, in order per kind
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  Stats stats_;
};

}  // namespace warren::agent
