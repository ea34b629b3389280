// One side of Istio's labels from a workload: the same values whichever side it describes, the
// owning workload's name preferred over the pod's, and only the principal for an unknown peer.
#include "mesh/state/workload_labels.h"

#include <gtest/gtest.h>

namespace warren::mesh {
namespace {

Workload echoPod() {
  Workload w;
  w.uid = "cluster1//Pod/demo/echo-7d9f-abcde";
  w.name = "echo-7d9f-abcde";
  w.namespace_ = "demo";
  w.workload_name = "echo";
  w.canonical_name = "echo";
  w.canonical_revision = "v2";
  w.cluster_id = "cluster1";
  return w;
}

TEST(WorkloadLabels, KnownWorkload) {
  Workload w = echoPod();
  auto l = workloadLabels(&w, "spiffe://cluster.local/ns/demo/sa/echo");
  metrics::WorkloadLabels want{
      "echo", "echo", "v2",      "demo", "spiffe://cluster.local/ns/demo/sa/echo",
      "echo", "v2",   "cluster1"};
  EXPECT_EQ(l, want);
}

TEST(WorkloadLabels, PodWithoutOwnerUsesPodName) {
  Workload w = echoPod();
  w.workload_name.clear();
  EXPECT_EQ(workloadLabels(&w, "").workload, "echo-7d9f-abcde");
}

TEST(WorkloadLabels, UnknownPeerKeepsOnlyThePrincipal) {
  auto l = workloadLabels(nullptr, "spiffe://cluster.local/ns/x/sa/y");
  metrics::WorkloadLabels want;
  want.principal = "spiffe://cluster.local/ns/x/sa/y";
  EXPECT_EQ(l, want);
  // ... and the exported values say "unknown" for everything else.
  metrics::TrafficLabels t;
  t.source = l;
  auto v = metrics::trafficLabelValues(t);
  EXPECT_EQ(v[1], "unknown");                           // source_workload
  EXPECT_EQ(v[5], "spiffe://cluster.local/ns/x/sa/y");  // source_principal
}

TEST(WorkloadLabels, ServiceLabels) {
  Service s;
  s.name = "echo";
  s.namespace_ = "demo";
  s.hostname = "echo.demo.svc.cluster.local";
  metrics::ServiceLabels want{"echo.demo.svc.cluster.local", "echo", "demo"};
  EXPECT_EQ(serviceLabels(s), want);
}

}  // namespace
}  // namespace warren::mesh
