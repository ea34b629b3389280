#include "agent/model/cluster_model.h"

#include <gtest/gtest.h>

#include "agent/model/enrolment.h"
#include "manifests.h"

namespace warren::agent {
namespace {

using namespace testing;

std::vector<k8s::Object> parse(const std::string& text, const std::string& source = "t.yaml") {
  auto r = k8s::parseManifests(text, source);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : std::vector<k8s::Object>{};
}

ConfigUpdate upserts(const std::string& text, bool replace_all = false) {
  ConfigUpdate u;
  u.replace_all = replace_all;
  u.upserts = parse(text);
  return u;
}

k8s::Pod pod(const std::string& labels_yaml, const std::string& phase = "Running",
             bool host = false) {
  auto objs = parse(podYaml("a", "p", "n1", "10.0.0.1", labels_yaml));
  auto p = k8s::decodePod(objs.at(0));
  EXPECT_TRUE(p);
  p->status.phase = phase;
  p->spec.host_network = host;
  return *p;
}

TEST(Enrolment, Table) {
  const k8s::Labels ambient{{"warren.dev/dataplane-mode", "ambient"}};
  const k8s::Labels none{};
  struct Case {
    const char* name;
    k8s::Labels ns;
    k8s::Pod pod;
    bool enrolled;
  };
  const Case cases[] = {
      {"namespace ambient", ambient, pod("app: web"), true},
      {"namespace unlabelled", none, pod("app: web"), false},
      {"pod opts out", ambient, pod("warren.dev/dataplane-mode: none"), false},
      {"pod opts in", none, pod("warren.dev/dataplane-mode: ambient"), true},
      {"unknown pod value follows namespace", ambient, pod("warren.dev/dataplane-mode: x"), true},
      {"host network never", ambient, pod("app: web", "Running", true), false},
      {"succeeded pod", ambient, pod("app: web", "Succeeded"), false},
      {"pending pod enrolled (CNI add comes before Running)", ambient, pod("app: web", "Pending"),
       true},
  };
  for (const auto& c : cases) EXPECT_EQ(isEnrolled(c.ns, c.pod), c.enrolled) << c.name;
}

TEST(ClusterModel, PublishesSnapshotsAndEnrolment) {
  ClusterModel model;
  std::vector<SnapshotPtr> seen;
  auto id = model.subscribe([&](const SnapshotPtr& s) { seen.push_back(s); });
  ASSERT_EQ(seen.size(), 1u);  // current snapshot at once
  model.apply(upserts(
      namespaceYaml("a", "ambient") + "---\n" + podYaml("a", "p1", "n1", "10.0.0.1") + "---\n" +
          podYaml("a", "p2", "n2", "10.0.0.2") + "---\n" + serviceYaml("a", "web", "10.96.0.10"),
      true));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.back()->pods.size(), 2u);
  EXPECT_EQ(seen.back()->services.count("a/web"), 1u);
  auto enrolled = enrolledPodsOnNode(*seen.back(), "n1");
  ASSERT_EQ(enrolled.size(), 1u);
  EXPECT_EQ(enrolled[0].name, "p1");
  EXPECT_EQ(enrolled[0].pod_ip, "10.0.0.1");

  ConfigUpdate del;
  del.deletes.push_back("Pod/a/p1");
  model.apply(del);
  EXPECT_TRUE(enrolledPodsOnNode(*model.snapshot(), "n1").empty());
  EXPECT_EQ(model.snapshot()->generation, seen.front()->generation + 2);
  model.unsubscribe(id);
  model.apply(upserts(podYaml("a", "p3", "n1", "10.0.0.3")));
  EXPECT_EQ(seen.size(), 3u);
}

TEST(ClusterModel, AChangeToAKindItDoesNotKeepPublishesNothing) {
  ClusterModel model;
  int published = 0;
  auto id = model.subscribe([&](const SnapshotPtr&) { ++published; });
  model.apply(upserts(namespaceYaml("a", "ambient"), true));
  ASSERT_EQ(published, 2);
  const uint64_t generation = model.snapshot()->generation;
  // The controller's Lease, renewed every 2 s: no snapshot, no round for the subscribers.
  model.apply(upserts(R"(apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: warren-waypoint-controller, namespace: warren-system}
spec: {holderIdentity: agent-1, leaseDurationSeconds: 15}
)"));
  ConfigUpdate gone;
  gone.deletes.push_back("Lease/warren-system/warren-waypoint-controller");
  model.apply(gone);
  EXPECT_EQ(published, 2);
  EXPECT_EQ(model.snapshot()->generation, generation);
  // Beside a kind it keeps, the update publishes as before.
  auto both = upserts(podYaml("a", "p1", "n1", "10.0.0.1"));
  both.deletes.push_back("Lease/warren-system/warren-waypoint-controller");
  model.apply(both);
  EXPECT_EQ(published, 3);
  EXPECT_EQ(model.snapshot()->pods.size(), 1u);
  model.unsubscribe(id);
}

TEST(ClusterModel, BadObjectKeepsLastGoodVersion) {
  ClusterModel model;
  model.apply(upserts(serviceYaml("a", "web", "10.96.0.10"), true));
  // Same Service, now with a bad port: skipped, the old version stays.
  std::string bad =
      "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: a\n"
      "spec:\n  ports:\n  - port: 99999\n";
  EXPECT_EQ(model.apply(upserts(bad)), 1u);
  EXPECT_EQ(model.snapshot()->services.at("a/web").cluster_ip, "10.96.0.10");
  // A re-list that carries the bad version also keeps the last good one.
  EXPECT_EQ(model.apply(upserts(bad, true)), 1u);
  EXPECT_EQ(model.snapshot()->services.at("a/web").cluster_ip, "10.96.0.10");
}

TEST(ClusterModel, DecodesSecurityKinds) {
  ClusterModel model;
  std::string text = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-a, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/b/sa/c"]}}]
    to: [{operation: {ports: ["8080"]}}]
---
apiVersion: warren.dev/v1alpha1
kind: PeerAuthentication
metadata: {name: strict, namespace: a}
spec:
  mtls: {mode: STRICT}
  portLevelMtls: {"9090": {mode: PERMISSIVE}}
)";
  EXPECT_EQ(model.apply(upserts(text, true)), 0u);
  auto s = model.snapshot();
  const auto& ap = s->authorization_policies.at("a/allow-a");
  ASSERT_TRUE(ap.selector);
  EXPECT_EQ(ap.rules.at(0).from.at(0).principals.at(0), "cluster.local/ns/b/sa/c");
  EXPECT_EQ(ap.rules.at(0).to.at(0).ports.at(0), "8080");
  const auto& pa = s->peer_authentications.at("a/strict");
  EXPECT_EQ(pa.mode, "STRICT");
  EXPECT_EQ(pa.port_modes.at(9090), "PERMISSIVE");
}

TEST(SecurityKinds, ErrorsNameTheField) {
  struct Case {
    std::string spec;
    std::string error_has;
  };
  const Case cases[] = {
      {"action: MAYBE", "spec.action"},
      {"rules:\n  - to: [{operation: {ports: [\"http\"]}}]", "ports"},
      {"rules: 3", "spec.rules"},
      {"selector: {matchLabels: [a]}", "matchLabels"},
      {"rules:\n  - when: [{key: source.ip, values: [\"10.0.0.0/33\"]}]", "when[0].values"},
      {"rules:\n  - when: [{key: destination.port, notValues: [\"x\"]}]", "notValues"},
      {"rules:\n  - from: [{source: {ipBlocks: [\"nope\"]}}]", "ipBlocks"},
  };
  for (const auto& c : cases) {
    auto objs = parse(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x, "
        "namespace: a}\nspec:\n  " +
            c.spec + "\n",
        "policy.yaml");
    ASSERT_EQ(objs.size(), 1u);
    auto p = decodeAuthorizationPolicy(objs[0]);
    ASSERT_FALSE(p) << c.spec;
    EXPECT_NE(p.error().message().find(c.error_has), std::string::npos) << p.error().message();
    EXPECT_NE(p.error().message().find("policy.yaml"), std::string::npos) << p.error().message();
  }
  auto pa = parse(
      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x}\n"
      "spec: {mtls: {mode: SOMETIMES}}\n");
  auto d = decodePeerAuthentication(pa.at(0));
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("spec.mtls.mode"), std::string::npos) << d.error().message();
}

}  // namespace
}  // namespace warren::agent
