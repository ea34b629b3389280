// The small valid cluster the agent-side fuzz targets start from (ca_csr, admin_api,
// k8s_manifest): node-a runs demo/web (service account web-sa) behind Service demo/web with an
// ALLOW policy and a STRICT PeerAuthentication; node-b runs demo/far (far-sa).
#pragma once

#include <vector>

#include "agent/model/cluster_model.h"
#include "common/k8s/object.h"
#include "fuzz/invariant.h"

namespace warren::fuzz {

inline constexpr const char* kClusterYaml = R"(apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, uid: uid-web, labels: {app: web}}
spec: {nodeName: node-a, serviceAccountName: web-sa, containers: [{name: app, image: x, ports: [{name: http, containerPort: 8080}]}]}
status: {phase: Running, podIP: 10.0.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: far, namespace: demo, uid: uid-far, labels: {app: web}}
spec: {nodeName: node-b, serviceAccountName: far-sa, containers: [{name: app, image: x}]}
status: {phase: Running, podIP: 10.0.1.6}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {clusterIP: 10.96.0.20, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: demo}
spec: {selector: {matchLabels: {app: web}}, rules: [{from: [{source: {principals: ["cluster.local/ns/demo/sa/*"]}}], to: [{operation: {ports: ["8080"]}}]}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec: {mtls: {mode: STRICT}, portLevelMtls: {"9090": {mode: PERMISSIVE}}}
)";

// The objects of kClusterYaml, parsed once.
inline const std::vector<k8s::Object>& clusterObjects() {
  static const std::vector<k8s::Object> objects = *k8s::parseManifests(kClusterYaml, "fuzz");
  return objects;
}

// Loads kClusterYaml into `model` as its whole state.
inline void loadCluster(agent::ClusterModel& model) {
  agent::ConfigUpdate u;
  u.replace_all = true;
  u.upserts = clusterObjects();
  invariant(model.apply(std::move(u)) == 0, "fuzz_cluster", "the fixture cluster was rejected");
}

}  // namespace warren::fuzz
