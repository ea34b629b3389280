// Which pod a cgroup path belongs to (the lab's and Kubernetes' shapes), and which callers the
// proxy socket accepts: a table. The kernel half is in proxy_socket_test.cc (root).
#include "agent/proxy/caller_identity.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/model/cluster_model.h"
#include "test_util.h"
#include "tests/agent/snapshot_of.h"

namespace warren::agent {
namespace {

using testing::snapshotOf;

const char* kPods = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: a}
spec: {gatewayClassName: warren-waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: a}
spec: {gatewayClassName: other-class}
---
apiVersion: v1
kind: Pod
metadata: {name: wp-0, namespace: a, uid: 11111111-2222-3333-4444-555555555555, labels: {gateway.networking.k8s.io/gateway-name: wp}}
spec: {nodeName: n1, serviceAccountName: wp-sa, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ing-0, namespace: a, labels: {gateway.networking.k8s.io/gateway-name: ingress}}
spec: {nodeName: n1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b-c, namespace: a}
spec: {nodeName: n1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: a-b}
spec: {nodeName: n1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: done, namespace: a}
spec: {nodeName: n1, containers: [{name: c}]}
status: {phase: Succeeded}
---
apiVersion: v1
kind: Pod
metadata: {name: remote, namespace: a}
spec: {nodeName: n2, containers: [{name: c}]}
)";

TEST(CallerIdentity, Table) {
  auto snap = snapshotOf(kPods);
  struct Case {
    std::string cgroup;
    std::string expect;  // "ns/pod (waypoint ns/gw) <identity>" or "error: <piece>"
  };
  const Case cases[] = {
      {"/wl/node-1/pod-a-wp-0", "a/wp-0 a/wp spiffe://td/ns/a/sa/wp-sa"},
      {"/kubepods/burstable/pod11111111-2222-3333-4444-555555555555/0123abc",
       "a/wp-0 a/wp spiffe://td/ns/a/sa/wp-sa"},
      {"/kubepods.slice/kubepods-besteffort.slice/"
       "kubepods-besteffort-pod11111111_2222_3333_4444_555555555555.slice/cri-containerd-9.scope",
       "a/wp-0 a/wp spiffe://td/ns/a/sa/wp-sa"},
      {"/wl/node-1/pod-a-ing-0", "error: pod a/ing-0 is not a waypoint"},
      {"/wl/node-1/pod-a-b-c", "error: could be pod a-b/c or a/b-c; refusing to guess"},
      {"/wl/node-1/pod-a-done", "error: no pod of node n1 runs in cgroup /wl/node-1/pod-a-done"},
      {"/wl/node-2/pod-a-remote", "error: no pod of node n1 runs in cgroup"},
      {"/", "error: no pod of node n1 runs in cgroup /"},
      {"/system.slice/warren-agent.service", "error: no pod of node n1"},
  };
  for (const auto& c : cases) {
    auto r = identifyWaypoint(*snap, "n1", "td", c.cgroup);
    if (c.expect.starts_with("error: ")) {
      ASSERT_FALSE(r) << c.cgroup;
      EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
      EXPECT_NE(r.error().message().find(c.expect.substr(7)), std::string::npos)
          << c.cgroup << ": " << r.error().message();
    } else {
      ASSERT_TRUE(r) << c.cgroup << ": " << r.error().message();
      EXPECT_EQ(r->pod + " " + r->waypoint + " " + r->identity.uri(), c.expect);
    }
  }
}

TEST(CallerIdentity, CgroupOfPidReadsTheV2Line) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/42");
  std::ofstream(dir.path() + "/42/cgroup") << "4:memory:/x\n0::/wl/node-1/pod-a-wp-0\n";
  EXPECT_EQ(*cgroupOfPid(42, dir.path()), "/wl/node-1/pod-a-wp-0");
  std::filesystem::create_directories(dir.path() + "/43");
  std::ofstream(dir.path() + "/43/cgroup") << "4:memory:/x\n";
  EXPECT_FALSE(cgroupOfPid(43, dir.path()));
  auto hidden = cgroupOfPid(0, dir.path());
  ASSERT_FALSE(hidden);
  EXPECT_NE(hidden.error().message().find("pid namespace"), std::string::npos);
}

}  // namespace
}  // namespace warren::agent
