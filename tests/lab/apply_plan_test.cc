#include "lab/apply_plan.h"

#include <gtest/gtest.h>

#include "common/k8s/core.h"
#include "lab/kubelet.h"

namespace warren::lab {
namespace {

std::vector<k8s::Object> parse(const std::string& text, const std::string& source = "f.yaml") {
  auto r = k8s::parseManifests(text, source);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : std::vector<k8s::Object>{};
}

std::function<std::string()> counterUid() {
  auto n = std::make_shared<int>(0);
  return [n] { return "uid-" + std::to_string(++*n); };
}

const char* kService = R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)";

const char* kPod = R"(
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: a}}
spec:
  containers: [{name: c, command: [sleep, "1"]}]
)";

TEST(ApplyPlanTest, AllocatesClusterIpAndWritesItIntoTheSpec) {
  auto plan = planApply({}, parse(kService), 2, counterUid());
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->size(), 1u);
  auto svc = k8s::decodeService((*plan)[0]);
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->cluster_ip, "10.96.0.1");
  EXPECT_EQ((*plan)[0].meta.uid, "uid-1");
  // A second Service gets the next address; re-applying the first keeps its address.
  auto existing = *plan;
  auto more = planApply(existing,
                        parse(std::string(kService) + "---\n" +
                              R"(
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  ports: [{port: 81}]
)"),
                        2, counterUid());
  ASSERT_TRUE(more) << more.error().message();
  EXPECT_EQ(k8s::decodeService((*more)[0])->cluster_ip, "10.96.0.1");
  EXPECT_EQ((*more)[0].meta.uid, "uid-1");  // kept from the stored object
  EXPECT_EQ(k8s::decodeService((*more)[1])->cluster_ip, "10.96.0.2");
}

TEST(ApplyPlanTest, RejectsTakenOrOutOfRangeClusterIp) {
  auto existing = *planApply({}, parse(kService), 2, counterUid());
  auto taken = planApply(existing, parse(R"(
apiVersion: v1
kind: Service
metadata: {name: other}
spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}
)"),
                         2, counterUid());
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().message().find("spec.clusterIP"), std::string::npos);
  auto outside = planApply({}, parse(R"(
apiVersion: v1
kind: Service
metadata: {name: other}
spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
)"),
                           2, counterUid());
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message().find("not in the service CIDR"), std::string::npos);
}

TEST(ApplyPlanTest, OneBadObjectRejectsTheWholeFileNamingFileObjectField) {
  std::string text = std::string(kService) + "---\n" + kPod + "---\n" + R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: demo}
spec:
  replicas: many
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c}]}
)";
  auto plan = planApply({}, parse(text, "bad.yaml"), 2, counterUid());
  ASSERT_FALSE(plan);
  const std::string msg = plan.error().message();
  EXPECT_NE(msg.find("bad.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Deployment demo/broken"), std::string::npos) << msg;
  EXPECT_NE(msg.find("spec.replicas"), std::string::npos) << msg;
}

TEST(ApplyPlanTest, UnknownNodeNameIsAFieldError) {
  auto plan = planApply({}, parse(R"(
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {nodeName: node-3, containers: [{name: c}]}
)"),
                        2, counterUid());
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message().find("spec.nodeName"), std::string::npos);
}

TEST(ApplyPlanTest, DuplicateObjectInOneFile) {
  auto plan = planApply({}, parse(std::string(kPod) + "---\n" + kPod), 2, counterUid());
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message().find("appears twice"), std::string::npos);
}

TEST(ApplyPlanTest, ReappliedPodKeepsIdentityAndStatusUnlessSpecChanged) {
  auto first = *planApply({}, parse(kPod), 2, counterUid());
  // The kubelet scheduled it and reported status.
  first[0].node["spec"]["nodeName"] = "node-2";
  first[0].node["status"]["phase"] = "Running";
  first[0].node["status"]["podIP"] = "10.244.2.2";
  auto same = planApply(first, parse(kPod), 2, [] { return std::string("new"); });
  ASSERT_TRUE(same) << same.error().message();
  auto pod = k8s::decodePod((*same)[0]);
  ASSERT_TRUE(pod);
  EXPECT_EQ((*same)[0].meta.uid, "uid-1");
  EXPECT_EQ(pod->spec.node_name, "node-2");
  EXPECT_EQ(pod->status.pod_ip, "10.244.2.2");

  std::string changed = kPod;
  changed.replace(changed.find("\"1\""), 3, "\"2\"");
  auto replaced = planApply(first, parse(changed), 2, [] { return std::string("new"); });
  ASSERT_TRUE(replaced);
  EXPECT_EQ((*replaced)[0].meta.uid, "new");
  EXPECT_TRUE(k8s::decodePod((*replaced)[0])->status.pod_ip.empty());
}

TEST(ApplyPlanTest, OtherKindsAreStoredAsIs) {
  auto plan = planApply({}, parse(R"(
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: demo}
spec: {action: DENY, rules: [{}]}
)"),
                        2, counterUid());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ((*plan)[0].node["spec"]["action"].as<std::string>(), "DENY");
}

TEST(PlanDeleteTest, NamedObjectsAndNamespaceContents) {
  auto existing = parse(R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: demo}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b}
spec: {containers: [{name: c}]}
)");
  std::vector<std::string> missing;
  auto del = planDelete(existing, parse(R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Pod
metadata: {name: zzz}
spec: {containers: [{name: c}]}
)"),
                        &missing);
  ASSERT_EQ(del.size(), 2u);
  EXPECT_EQ(del[0].key(), "Namespace//demo");
  EXPECT_EQ(del[1].key(), "Pod/demo/a");
  EXPECT_EQ(missing, std::vector<std::string>{"Pod default/zzz"});
}

}  // namespace
}  // namespace warren::lab

namespace warren::lab {
namespace {

// Re-applying an object keeps the status its controller wrote (the API server's status
// subresource); a Pod's own rules are unchanged.
TEST(ApplyPlanTest, ReapplyKeepsControllerStatus) {
  auto existing = k8s::parseManifests(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop, uid: u1}
spec: {gatewayClassName: warren-waypoint}
status: {conditions: [{type: Accepted, status: "True"}]}
)",
                                      "stored");
  auto incoming = k8s::parseManifests(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop}
spec: {gatewayClassName: warren-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
)",
                                      "in");
  ASSERT_TRUE(existing && incoming);
  auto plan = planApply(*existing, *incoming, 2, [] { return std::string("new"); });
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ((*plan)[0].meta.uid, "u1");
  EXPECT_EQ((*plan)[0].node["status"]["conditions"][0]["type"].as<std::string>(), "Accepted");
  EXPECT_TRUE((*plan)[0].node["spec"]["listeners"].IsDefined());
}

}  // namespace
}  // namespace warren::lab
