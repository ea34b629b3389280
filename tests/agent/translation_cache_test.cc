// buildXdsResources with its cache (what the agent's xDS store uses) against a build from
// scratch, after every step of a long pseudo-random sequence of cluster changes through a real
// ClusterModel: pods added, removed, relabelled (Service and policy selection, waypoint use),
// re-addressed and finished; namespaces (enrolment, waypoint), Services, AuthorizationPolicies,
// PeerAuthentications and waypoint Gateways with their pods coming and going. Every resource
// (name, version, aliases, scope), every note and error must be the same; and the cache
// must have done its job: a change to pods alone translates those pods only.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "agent/model/cluster_model.h"
#include "agent/translate/xds_resources.h"
#include "common/k8s/object.h"

namespace warren::agent {
namespace {

constexpr int kNamespaces = 3;
constexpr int kPodsPerNamespace = 12;

struct PodState {
  bool present = true;
  int app = 0;          // label app: a-<app>, what Services and policies select
  int ip = 0;           // 0: no IP yet
  bool done = false;    // phase Succeeded
  int waypoint = 0;     // warren.dev/use-waypoint: 0 none set, 1 wp, 2 "none"
  bool is_waypoint = false;
};

struct World {
  std::vector<std::vector<PodState>> pods;
  std::vector<int> ns_mode;        // 0 not enrolled, 1 ambient, 2 ambient + use-waypoint wp
  std::vector<int> svc_selector;   // per namespace: the app the Service "web" selects; -1 absent
  std::vector<int> policy;         // per namespace: 0 none, 1 ALLOW on app a-1, 2 DENY on a-2
  std::vector<bool> gateway;       // per namespace: the waypoint Gateway "wp" and its Service
  bool strict = false;             // a selector PeerAuthentication in ns-0
};

std::string ns(int n) { return "ns-" + std::to_string(n); }

std::string podYaml(int n, int i, const PodState& p) {
  std::string labels = "app: a-" + std::to_string(p.app);
  if (p.waypoint == 1) labels += ", warren.dev/use-waypoint: wp";
  if (p.waypoint == 2) labels += ", warren.dev/use-waypoint: none";
  if (p.is_waypoint) labels += ", gateway.networking.k8s.io/gateway-name: wp";
  std::string status = p.done ? "phase: Succeeded" : "phase: Running";
  if (p.ip) status += ", podIP: 10.1." + std::to_string(n) + "." + std::to_string(p.ip);
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: p-" + std::to_string(i) +
         ", namespace: " + ns(n) + ", labels: {" + labels + "}}\nspec: {nodeName: node-" +
         std::to_string(i % 2 + 1) + ", serviceAccountName: sa-" + std::to_string(i % 3) +
         ", containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]}\nstatus: {" +
         status + "}\n";
}

std::string namespaceYaml(int n, int mode) {
  std::string labels;
  if (mode >= 1) labels = "warren.dev/dataplane-mode: ambient";
  if (mode == 2) labels += ", warren.dev/use-waypoint: wp";
  return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns(n) + ", labels: {" + labels +
         "}}\n";
}

std::string serviceYaml(int n, int app) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: " + ns(n) +
         "}\nspec: {clusterIP: 10.96." + std::to_string(n) + ".10, selector: {app: a-" +
         std::to_string(app) + "}, ports: [{name: http, port: 80, targetPort: http}]}\n";
}

std::string policyYaml(int n, int kind) {
  const bool allow = kind == 1;
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: pol, "
         "namespace: " +
         ns(n) + "}\nspec: {selector: {matchLabels: {app: a-" + (allow ? "1" : "2") +
         "}}, action: " + (allow ? "ALLOW" : "DENY") + ", rules: [{from: [{source: {namespaces: [" +
         ns(n) + "]}}]}]}\n";
}

std::string gatewayYaml(int n) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: wp, "
         "namespace: " +
         ns(n) +
         "}\nspec: {gatewayClassName: warren-waypoint, listeners: [{name: mesh, port: 15008, "
         "protocol: HBONE}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: wp, "
         "namespace: " +
         ns(n) + "}\nspec: {clusterIP: 10.96." + std::to_string(n) +
         ".20, selector: {gateway.networking.k8s.io/gateway-name: wp}, ports: [{name: mesh, "
         "port: 15008}]}\n";
}

std::string strictYaml() {
  return "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict, "
         "namespace: ns-0}\nspec: {selector: {matchLabels: {app: a-0}}, mtls: {mode: STRICT}}\n";
}

std::vector<k8s::Object> objects(const std::string& yaml) {
  auto objs = k8s::parseManifests(yaml, "cache-test.yaml");
  EXPECT_TRUE(objs) << objs.error().message() << "\n" << yaml;
  return objs ? *objs : std::vector<k8s::Object>{};
}

// The two builds must agree on everything a subscriber or the log sees.
void expectSame(const XdsBuild& cached, const XdsBuild& fresh, int step) {
  ASSERT_EQ(cached.resources.size(), fresh.resources.size()) << "step " << step;
  for (const auto& [type, resources] : fresh.resources) {
    const auto& mine = cached.resources.at(type);
    ASSERT_EQ(mine.size(), resources.size()) << "step " << step << " " << type;
    for (const auto& [name, r] : resources) {
      auto it = mine.find(name);
      ASSERT_NE(it, mine.end()) << "step " << step << " missing " << name;
      // The version is the hash of the message's deterministic serialisation, so equal
      // versions are equal contents (the packed bytes may order a map field differently).
      EXPECT_EQ(it->second.version, r.version) << "step " << step << " " << name;
      EXPECT_EQ(it->second.body->type_url(), r.body->type_url()) << "step " << step << " " << name;
      EXPECT_EQ(it->second.aliases, r.aliases) << "step " << step << " " << name;
      EXPECT_EQ(it->second.scope, r.scope) << "step " << step << " " << name;
    }
  }
  EXPECT_EQ(cached.notes, fresh.notes) << "step " << step;
  EXPECT_EQ(cached.errors, fresh.errors) << "step " << step;
}

TEST(XdsTranslationCache, AgreesWithAFullBuildThroughEveryKindOfChange) {
  World w;
  w.pods.assign(kNamespaces, std::vector<PodState>(kPodsPerNamespace));
  for (int n = 0; n < kNamespaces; ++n)
    for (int i = 0; i < kPodsPerNamespace; ++i) w.pods[n][i] = PodState{true, i % 4, i + 1};
  w.ns_mode = {1, 2, 0};
  w.svc_selector = {0, 1, 2};
  w.policy = {1, 0, 2};
  w.gateway = {false, true, false};
  w.pods[1][0].is_waypoint = true;

  std::string all;
  for (int n = 0; n < kNamespaces; ++n) {
    all += "---\n" + namespaceYaml(n, w.ns_mode[n]) + "---\n" + serviceYaml(n, w.svc_selector[n]);
    if (w.policy[n]) all += "---\n" + policyYaml(n, w.policy[n]);
    if (w.gateway[n]) all += "---\n" + gatewayYaml(n);
    for (int i = 0; i < kPodsPerNamespace; ++i) all += "---\n" + podYaml(n, i, w.pods[n][i]);
  }
  ClusterModel model;
  ConfigUpdate first;
  first.replace_all = true;
  first.upserts = objects(all);
  ASSERT_EQ(model.apply(std::move(first)), 0u);

  TranslationContext ctx;
  XdsTranslationCache cache;
  expectSame(buildXdsResources(*model.snapshot(), ctx, &cache),
             buildXdsResources(*model.snapshot(), ctx), 0);
  EXPECT_EQ(cache.podsTranslated(), static_cast<size_t>(kNamespaces * kPodsPerNamespace));

  std::mt19937 rng(20261206);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  size_t pod_only_steps = 0, context_steps = 0;
  for (int step = 1; step <= 400; ++step) {
    ConfigUpdate u;
    int changed_pods = 0;
    const int what = pick(20);
    const int n = pick(kNamespaces);
    if (what < 12) {
      // One to three pods change (the common case: pod churn).
      for (int k = 1 + pick(3); k > 0; --k) {
        const int i = pick(kPodsPerNamespace);
        PodState& p = w.pods[n][i];
        switch (pick(6)) {
          case 0: p.app = pick(4); break;
          case 1: p.ip = p.ip ? 0 : 100 + i; break;
          case 2: p.done = !p.done; break;
          case 3: p.waypoint = pick(3); break;
          case 4: p.is_waypoint = !p.is_waypoint; break;
          default: p.present = !p.present; break;
        }
        if (p.present)
          for (auto& o : objects(podYaml(n, i, p))) u.upserts.push_back(std::move(o));
        else
          u.deletes.push_back("Pod/" + ns(n) + "/p-" + std::to_string(i));
        ++changed_pods;
      }
    } else if (what == 12) {
      w.ns_mode[n] = pick(3);
      u.upserts = objects(namespaceYaml(n, w.ns_mode[n]));
    } else if (what == 13) {
      w.svc_selector[n] = w.svc_selector[n] < 0 ? pick(4) : (pick(3) == 0 ? -1 : pick(4));
      if (w.svc_selector[n] < 0)
        u.deletes.push_back("Service/" + ns(n) + "/web");
      else
        u.upserts = objects(serviceYaml(n, w.svc_selector[n]));
    } else if (what == 14 || what == 15) {
      w.policy[n] = pick(3);
      if (w.policy[n] == 0)
        u.deletes.push_back("AuthorizationPolicy/" + ns(n) + "/pol");
      else
        u.upserts = objects(policyYaml(n, w.policy[n]));
    } else if (what == 16) {
      w.gateway[n] = !w.gateway[n];
      if (w.gateway[n]) {
        u.upserts = objects(gatewayYaml(n));
      } else {
        u.deletes.push_back("Gateway/" + ns(n) + "/wp");
        u.deletes.push_back("Service/" + ns(n) + "/wp");
      }
    } else if (what == 17) {
      w.strict = !w.strict;
      if (w.strict)
        u.upserts = objects(strictYaml());
      else
        u.deletes.push_back("PeerAuthentication/ns-0/strict");
    } else {
      // A pod and a Service in one update: the context changes with it.
      PodState& p = w.pods[n][pick(kPodsPerNamespace)];
      p.app = pick(4);
      p.present = true;
      const int i = static_cast<int>(&p - w.pods[n].data());
      u.upserts = objects(podYaml(n, i, p));
      w.svc_selector[n] = pick(4);
      for (auto& o : objects(serviceYaml(n, w.svc_selector[n]))) u.upserts.push_back(std::move(o));
    }
    const uint64_t before = model.snapshot()->context_generation;
    model.apply(std::move(u));
    SnapshotPtr snap = model.snapshot();
    XdsBuild cached = buildXdsResources(*snap, ctx, &cache);
    expectSame(cached, buildXdsResources(*snap, ctx), step);
    if (::testing::Test::HasFailure()) return;
    if (what < 12) {
      ++pod_only_steps;
      EXPECT_EQ(snap->context_generation, before) << "step " << step << ": pods only";
      EXPECT_LE(cache.podsTranslated(), static_cast<size_t>(changed_pods)) << "step " << step;
      EXPECT_EQ(cache.podsTranslated() + cache.podsReused(), snap->pods.size());
    } else {
      ++context_steps;
      EXPECT_EQ(snap->context_generation, before + 1) << "step " << step;
      EXPECT_EQ(cache.podsReused(), 0u) << "step " << step << ": the context changed";
    }
  }
  EXPECT_GT(pod_only_steps, 150u);
  EXPECT_GT(context_steps, 50u);

  // Another TranslationContext (the agent never changes its own, but the cache must not assume
  // it): everything is translated again.
  TranslationContext other = ctx;
  other.trust_domain = "td.example";
  expectSame(buildXdsResources(*model.snapshot(), other, &cache),
             buildXdsResources(*model.snapshot(), other), 1000);
  EXPECT_EQ(cache.podsReused(), 0u);
}

}  // namespace
}  // namespace warren::agent
