// The waypoint controller role: what a Gateway becomes (table), the Lease protocol (table and
// two electors racing on one store), status rendering that settles, and the whole controller
// against the two stores it writes: the lab's manifest directory (an informer-fed model, bad
// routes and Gateways, conflicts, garbage collection) and the Kubernetes API (FakeKubeApi: two
// agents, one leader, the other taking over when it goes away).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "agent/config/kube_api_informer.h"
#include "agent/controller/gateway_status.h"
#include "agent/controller/leader_election.h"
#include "agent/controller/waypoint_controller.h"
#include "agent/controller/waypoint_resources.h"
#include "common/kube/kube_api_store.h"
#include "common/kube/manifest_store.h"
#include "fake_kube_api.h"
#include "test_util.h"

namespace warren::agent {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::system_clock;

k8s::Object objectOf(const std::string& yaml) {
  auto objs = k8s::parseManifests(yaml, "t.yaml");
  EXPECT_TRUE(objs) << objs.error().message();
  return objs->front();
}

const char* kGateway = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop, uid: gw-uid-1, labels: {warren.dev/waypoint-for: all}}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
  infrastructure: {labels: {team: payments}}
)";

TEST(WaypointResources, WhatAGatewayBecomes) {
  auto gw = decodeGateway(objectOf(kGateway));
  ASSERT_TRUE(gw);
  WaypointDeploymentOptions o;
  o.image = "registry/warren-waypoint:1";
  o.trust_domain = "example.org";
  auto r = waypointResources(*gw, o);
  ASSERT_TRUE(r) << r.error().message();
  for (const k8s::Object* obj : r->all()) {
    json j = k8s::toJson(*obj);
    EXPECT_EQ(j["metadata"]["name"], "waypoint") << obj->kind;
    EXPECT_EQ(j["metadata"]["namespace"], "shop");
    EXPECT_EQ(j["metadata"]["labels"]["gateway.networking.k8s.io/gateway-name"], "waypoint");
    EXPECT_EQ(j["metadata"]["labels"]["warren.dev/managed-by"], "waypoint-controller");
    EXPECT_EQ(j["metadata"]["labels"]["team"], "payments");  // spec.infrastructure.labels
    EXPECT_EQ(j["metadata"]["ownerReferences"][0],
              (json{{"apiVersion", "gateway.networking.k8s.io/v1"},
                    {"kind", "Gateway"},
                    {"name", "waypoint"},
                    {"uid", "gw-uid-1"},
                    {"controller", true},
                    {"blockOwnerDeletion", true}}));
    EXPECT_TRUE(ownedByGateway(*obj, "gw-uid-1"));
    EXPECT_FALSE(ownedByGateway(*obj, "other"));
    EXPECT_FALSE(obj->meta.annotations.at(kSpecHashAnnotation).empty());
  }
  json svc = k8s::toJson(r->service);
  EXPECT_EQ(svc["spec"]["ports"][0], (json{{"name", "hbone"},
                                           {"port", 15008},
                                           {"targetPort", 15008},
                                           {"protocol", "TCP"},
                                           {"appProtocol", "hbone"}}));
  EXPECT_EQ(svc["spec"]["selector"],
            (json{{"gateway.networking.k8s.io/gateway-name", "waypoint"}}));
  json d = k8s::toJson(r->deployment);
  const json& pod = d["spec"]["template"];
  EXPECT_EQ(pod["metadata"]["labels"]["warren.dev/dataplane-mode"], "none");
  EXPECT_EQ(pod["spec"]["serviceAccountName"], "waypoint");
  const json& c = pod["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "registry/warren-waypoint:1");
  EXPECT_EQ(c["command"], (json{"warren-waypoint", "--xds-socket", "/var/run/warren/proxy/xds.sock",
                                "--trust-domain", "example.org", "--gateway", "shop/waypoint",
                                "--hbone-port", "15008", "--admin-port", "15000", "--metrics-port",
                                "15020", "--readiness-port", "15021", "--log-level", "info"}));
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], "/var/run/warren/proxy");
  EXPECT_EQ(pod["spec"]["volumes"][0]["hostPath"]["path"], "/var/run/warren/proxy");
  // The lab decodes it like any Deployment.
  auto decoded = k8s::decodeDeployment(r->deployment);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->template_spec.containers[0].command[0], "warren-waypoint");
  // A changed Gateway changes the digest, an identical one does not.
  auto again = waypointResources(*gw, o);
  EXPECT_EQ(again->deployment.meta.annotations.at(kSpecHashAnnotation),
            r->deployment.meta.annotations.at(kSpecHashAnnotation));
  o.image = "registry/warren-waypoint:2";
  auto changed = waypointResources(*gw, o);
  EXPECT_NE(changed->deployment.meta.annotations.at(kSpecHashAnnotation),
            r->deployment.meta.annotations.at(kSpecHashAnnotation));
  // Tracing annotations on the Gateway become the waypoint's tracing flags (and a new digest).
  Gateway traced = *gw;
  traced.meta.annotations[kTracingEndpointAnnotation] = "http://10.244.2.9:4318";
  traced.meta.annotations[kTracingSamplingAnnotation] = "100";
  auto t = waypointResources(traced, o);
  ASSERT_TRUE(t) << t.error().message();
  json tc = k8s::toJson(t->deployment)["spec"]["template"]["spec"]["containers"][0]["command"];
  ASSERT_EQ(tc.size(), c["command"].size() + 4);
  EXPECT_EQ(
      json(std::vector<json>(tc.end() - 4, tc.end())),
      (json{"--tracing-otlp-endpoint", "http://10.244.2.9:4318", "--tracing-sampling", "100"}));
  EXPECT_NE(t->deployment.meta.annotations.at(kSpecHashAnnotation),
            changed->deployment.meta.annotations.at(kSpecHashAnnotation));
  traced.meta.annotations.erase(kTracingSamplingAnnotation);
  tc = k8s::toJson(waypointResources(traced, o)
                       ->deployment)["spec"]["template"]["spec"]["containers"][0]["command"];
  EXPECT_EQ(tc.back(),
            "http://10.244.2.9:4318");  // the endpoint alone: the waypoint's default rate
  // The workers annotation (cf. Istio's proxy concurrency) becomes --workers.
  Gateway single = *gw;
  single.meta.annotations[kWorkersAnnotation] = "1";
  tc = k8s::toJson(waypointResources(single, o)
                       ->deployment)["spec"]["template"]["spec"]["containers"][0]["command"];
  EXPECT_EQ(json(std::vector<json>(tc.end() - 2, tc.end())), (json{"--workers", "1"}));
  // Without an HBONE listener on 15008 a waypoint Gateway is not deployed.
  EXPECT_EQ(waypointListenerProblem(*gw), "");
  Gateway http = *gw;
  http.listeners = {{"web", "", 80, "HTTP"}};
  EXPECT_NE(waypointListenerProblem(http).find("HBONE on port 15008"), std::string::npos);
}

TEST(LeaderElection, DecisionTable) {
  const auto t0 = Clock::time_point(std::chrono::seconds(1'000'000));
  LeaseRecord held{"a", 15s, t0, t0, 3};
  struct Case {
    std::optional<LeaseRecord> lease;
    std::string self;
    Clock::time_point now;
    LeaseAction want;
  };
  LeaseRecord released = held;
  released.holder = "";
  const Case cases[] = {
      {std::nullopt, "a", t0, LeaseAction::kCreate},
      {held, "a", t0 + 1s, LeaseAction::kRenew},
      {held, "a", t0 + 60s, LeaseAction::kRenew},  // ours, even if we were slow
      {held, "b", t0 + 14s, LeaseAction::kFollow},
      {held, "b", t0 + 15s, LeaseAction::kFollow},  // expiry is strictly after the duration
      {held, "b", t0 + 16s, LeaseAction::kTakeOver},
      {released, "b", t0 + 1s, LeaseAction::kTakeOver},
  };
  for (const auto& c : cases) EXPECT_EQ(decideLease(c.lease, c.self, c.now), c.want) << c.self;
}

TEST(LeaderElection, TwoCandidatesOneStore) {
  testing::TempDir dir;
  kube::ManifestStore store_a(dir.path()), store_b(dir.path());
  LeaderElector a(store_a, {"agent-a", "warren-system", "lease", 15s});
  LeaderElector b(store_b, {"agent-b", "warren-system", "lease", 15s});
  const auto t0 = Clock::now();
  EXPECT_TRUE(a.tick(t0));
  EXPECT_FALSE(b.tick(t0 + 1s));
  EXPECT_EQ(b.holder(), "agent-a");
  EXPECT_TRUE(a.tick(t0 + 2s));    // renewed
  EXPECT_FALSE(b.tick(t0 + 16s));  // renewed at +2s: alive until +17s
  // a stops renewing: b takes over once the lease expired, and a then follows.
  EXPECT_TRUE(b.tick(t0 + 18s));
  EXPECT_FALSE(a.tick(t0 + 19s));
  auto lease = store_a.get({"coordination.k8s.io/v1", "Lease", "warren-system", "lease"});
  ASSERT_TRUE(lease);
  LeaseRecord r = leaseRecordOf(*lease);
  EXPECT_EQ(r.holder, "agent-b");
  EXPECT_EQ(r.transitions, 1);
  EXPECT_EQ(r.duration, 15s);
  // Released: a need not wait for expiry.
  b.release(t0 + 20s);
  EXPECT_TRUE(a.tick(t0 + 21s));
  EXPECT_EQ(
      leaseRecordOf(*store_a.get({"coordination.k8s.io/v1", "Lease", "warren-system", "lease"}))
          .transitions,
      2);
}

TEST(GatewayStatus, SettlesAndKeepsTransitionTimes) {
  auto gw = decodeGateway(objectOf(kGateway));
  ASSERT_TRUE(gw);
  gw->meta.generation = 4;
  GatewayOutcome pending;
  pending.deployed = true;
  json s1 = gatewayStatus(*gw, pending, json(), "T1");
  EXPECT_EQ(s1["conditions"][1]["reason"], "Pending");
  EXPECT_EQ(s1["conditions"][0]["observedGeneration"], 4);
  // Same answer later: the same document (nothing to write).
  EXPECT_EQ(gatewayStatus(*gw, pending, s1, "T2"), s1);
  GatewayOutcome ready = pending;
  ready.address = "10.96.0.7";
  json s2 = gatewayStatus(*gw, ready, s1, "T3");
  EXPECT_EQ(s2["addresses"], (json::array({{{"type", "IPAddress"}, {"value", "10.96.0.7"}}})));
  EXPECT_EQ(s2["conditions"][0]["lastTransitionTime"], "T1");  // Accepted stayed True
  EXPECT_EQ(s2["conditions"][1]["lastTransitionTime"], "T3");  // Programmed flipped
  EXPECT_EQ(s2["conditions"][1]["status"], "True");
  EXPECT_EQ(s2["listeners"][0]["name"], "mesh");
  GatewayOutcome conflict = pending;
  conflict.conflict = "Service shop/waypoint exists and is not owned by Gateway shop/waypoint";
  json s3 = gatewayStatus(*gw, conflict, s2, "T4");
  EXPECT_EQ(s3["conditions"][1]["reason"], "Invalid");
  EXPECT_EQ(s3["conditions"][1]["message"], conflict.conflict);

  // Route parents: another controller's entry is kept, ours replaced.
  RouteStatus rs;
  rs.parents.push_back(
      {ParentRef{"", "Service", "shop", "api", "", 80}, {{"Accepted", true, "Accepted", "ok"}}});
  json other = {{"parentRef", {{"name", "ingress"}}}, {"controllerName", "example.com/gw"}};
  json existing = {{"parents", json::array({other})}};
  auto r1 = routeStatus(rs, 2, existing, "T1");
  ASSERT_TRUE(r1);
  ASSERT_EQ((*r1)["parents"].size(), 2u);
  EXPECT_EQ((*r1)["parents"][0], other);
  EXPECT_EQ((*r1)["parents"][1]["controllerName"], "warren.dev/waypoint-controller");
  EXPECT_EQ((*r1)["parents"][1]["parentRef"], (json{{"group", ""},
                                                    {"kind", "Service"},
                                                    {"namespace", "shop"},
                                                    {"name", "api"},
                                                    {"port", 80}}));
  EXPECT_EQ(routeStatus(rs, 2, *r1, "T2"), r1);
  // Nothing to say and nothing of ours there: no write at all.
  EXPECT_FALSE(routeStatus(RouteStatus{}, 2, existing, "T3"));
}

// ---- the controller on the lab's manifest directory ----

class ManifestController : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<kube::ManifestStore>(dir_.path());
    WaypointController::Options o;
    o.lease.identity = "agent-1";
    controller_ = std::make_unique<WaypointController>(
        model_, std::make_unique<kube::ManifestStore>(dir_.path()), o);
  }
  // What the informer does: the model becomes the directory's contents.
  void syncModel() {
    auto all = store_->loadAll();
    ASSERT_TRUE(all) << all.error().message();
    ConfigUpdate u;
    u.replace_all = true;
    u.upserts = *all;
    model_.apply(std::move(u));
  }
  void apply(const std::string& yaml) {
    auto objs = k8s::parseManifests(yaml, "apply.yaml");
    ASSERT_TRUE(objs) << objs.error().message();
    for (const auto& o : *objs) ASSERT_TRUE(store_->put(o));
  }
  // Controller round, then the informer, until nothing changes (bounded).
  void settle() {
    for (int i = 0; i < 5; ++i) {
      syncModel();
      auto before = controller_->stats();
      controller_->runOnce();
      auto after = controller_->stats();
      if (after.created == before.created && after.updated == before.updated &&
          after.deleted == before.deleted && after.status_writes == before.status_writes)
        return;
    }
    ADD_FAILURE() << "the controller did not settle in 5 rounds";
  }
  json status(const std::string& kind, const std::string& ns, const std::string& name) {
    auto obj = store_->get({"", kind, ns, name});
    if (!obj) return json();
    return k8s::toJson(*obj).value("status", json());
  }
  static json condition(const json& conditions, const std::string& type) {
    for (const auto& c : conditions)
      if (c["type"] == type) return c;
    return json();
  }

  testing::TempDir dir_;
  ClusterModel model_;
  std::unique_ptr<kube::ManifestStore> store_;
  std::unique_ptr<WaypointController> controller_;
};

const char* kShop = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: api}, ports: [{name: http, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: good, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 80}]
  rules: [{matches: [{path: {type: PathPrefix, value: /v2}}], backendRefs: [{name: api, port: 80}]}]
)";

TEST_F(ManifestController, DeploysAWaypointAndWritesStatus) {
  apply(kShop);
  settle();
  for (const char* kind : {"ServiceAccount", "Service", "Deployment"}) {
    auto obj = store_->get({"", kind, "shop", "waypoint"});
    ASSERT_TRUE(obj) << kind;
    auto gw = store_->get({"", "Gateway", "shop", "waypoint"});
    EXPECT_TRUE(ownedByGateway(*obj, gw->meta.uid)) << kind;
  }
  // The store allocates no ClusterIP (the lab does on reconcile): Programmed waits for it.
  json st = status("Gateway", "shop", "waypoint");
  EXPECT_EQ(condition(st["conditions"], "Accepted")["status"], "True");
  EXPECT_EQ(condition(st["conditions"], "Programmed")["reason"], "Pending");
  // The lab's reconcile gives the Service its address: Programmed, with the address.
  auto svc = store_->get({"", "Service", "shop", "waypoint"});
  svc->node["spec"]["clusterIP"] = "10.96.0.99";
  ASSERT_TRUE(store_->put(*svc));
  settle();
  st = status("Gateway", "shop", "waypoint");
  EXPECT_EQ(condition(st["conditions"], "Programmed")["status"], "True");
  EXPECT_EQ(st["addresses"][0]["value"], "10.96.0.99");
  // The route is accepted on its Service.
  json rs = status("HTTPRoute", "shop", "good");
  ASSERT_EQ(rs["parents"].size(), 1u);
  EXPECT_EQ(condition(rs["parents"][0]["conditions"], "Accepted")["status"], "True");
  EXPECT_EQ(condition(rs["parents"][0]["conditions"], "ResolvedRefs")["status"], "True");
  // Settled: one more round writes nothing.
  auto before = controller_->stats();
  syncModel();
  controller_->runOnce();
  EXPECT_EQ(controller_->stats().status_writes, before.status_writes);
  EXPECT_EQ(controller_->stats().updated, before.updated);
}

// The controller's own thread, woken by a snapshot every 10 ms. The holder renewed the Lease on
// every wake, and in the lab each renewal came back as a snapshot (the manifest directory
// carries the Lease): ~75 writes a second and a core busy parsing them, in every agent.
TEST_F(ManifestController, TheHolderRenewsOncePerPeriodNotOnEverySnapshot) {
  apply(kShop);
  syncModel();
  WaypointController::Options o;
  o.lease.identity = "agent-1";
  o.renew_period = 200ms;
  controller_ = std::make_unique<WaypointController>(
      model_, std::make_unique<kube::ManifestStore>(dir_.path()), o);
  controller_->start();
  auto leaseGeneration = [&] {
    auto lease = store_->get({"", "Lease", "warren-system", "warren-waypoint-controller"});
    return lease ? lease->meta.generation : int64_t{0};
  };
  ASSERT_TRUE(
      testing::waitFor([&] { return controller_->leading() && leaseGeneration() > 0; }, 5s));
  const int64_t before = leaseGeneration();
  for (int i = 0; i < 150; ++i) {  // 1.5 s of snapshots
    ConfigUpdate u;
    u.upserts = k8s::parseManifests("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-" +
                                        std::to_string(i) + "}\n",
                                    "ns.yaml")
                    .value();
    model_.apply(std::move(u));
    std::this_thread::sleep_for(10ms);
  }
  const int64_t renewals = leaseGeneration() - before;
  EXPECT_GE(controller_->stats().rounds, 10u) << "the snapshots woke the controller";
  EXPECT_GE(renewals, 1) << "the holder still renews";
  EXPECT_LE(renewals, 9) << "at most one renewal per 200 ms (7 in 1.5 s) and slack";
  controller_->stop();
}

TEST_F(ManifestController, ABadRouteGetsItsErrorTheGoodOneStays) {
  apply(kShop);
  apply(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 80}]
  rules: [{matches: [{path: {type: RegularExpression, value: "/(unclosed"}}]}]
)");
  settle();
  json bad = status("HTTPRoute", "shop", "bad");
  json accepted = condition(bad["parents"][0]["conditions"], "Accepted");
  EXPECT_EQ(accepted["status"], "False");
  EXPECT_EQ(accepted["reason"], "UnsupportedValue");
  EXPECT_NE(accepted["message"].get<std::string>().find(
                "spec.rules[0].matches[0].path.value: invalid regular expression: missing )"),
            std::string::npos)
      << accepted;
  json good = status("HTTPRoute", "shop", "good");
  EXPECT_EQ(condition(good["parents"][0]["conditions"], "Accepted")["status"], "True");
  // A good route turned bad keeps its last good version in force, and says so.
  apply(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: good, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: api, port: 80}]
  rules: [{backendRefs: [{name: api, port: 80, weight: 2000000}]}]
)");
  settle();
  good = status("HTTPRoute", "shop", "good");
  accepted = condition(good["parents"][0]["conditions"], "Accepted");
  EXPECT_EQ(accepted["status"], "False");
  EXPECT_NE(accepted["message"].get<std::string>().find("the last accepted version stays in force"),
            std::string::npos);
  EXPECT_EQ(model_.snapshot()->http_routes.at("shop/good").rules[0].matches[0].path.value, "/v2");
}

TEST_F(ManifestController, BadGatewaysConflictsAndGarbage) {
  apply(kShop);
  apply(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: no-hbone, namespace: shop}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: web, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: typo, namespace: shop, labels: {warren.dev/waypoint-for: servce}}
spec: {gatewayClassName: warren-waypoint}
---
apiVersion: v1
kind: Service
metadata: {name: taken, namespace: shop}
spec: {selector: {app: mine}, ports: [{port: 1}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: taken, namespace: shop}
spec:
  gatewayClassName: warren-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
)");
  settle();
  json no_hbone = status("Gateway", "shop", "no-hbone");
  EXPECT_EQ(condition(no_hbone["conditions"], "Accepted")["reason"], "ListenersNotValid");
  EXPECT_EQ(condition(no_hbone["listeners"][0]["conditions"], "Accepted")["reason"],
            "UnsupportedProtocol");
  EXPECT_FALSE(store_->get({"", "Deployment", "shop", "no-hbone"}));
  json typo = status("Gateway", "shop", "typo");
  EXPECT_EQ(condition(typo["conditions"], "Accepted")["reason"], "InvalidParameters");
  EXPECT_NE(condition(typo["conditions"], "Accepted")["message"].get<std::string>().find(
                "metadata.labels[warren.dev/waypoint-for]: 'servce'"),
            std::string::npos);
  json taken = status("Gateway", "shop", "taken");
  EXPECT_EQ(condition(taken["conditions"], "Programmed")["reason"], "Invalid");
  EXPECT_NE(condition(taken["conditions"], "Programmed")["message"].get<std::string>().find(
                "Service shop/taken exists and is not owned by Gateway shop/taken"),
            std::string::npos);
  // The user's Service is untouched.
  EXPECT_EQ(store_->get({"", "Service", "shop", "taken"})->meta.labels.count(kManagedByLabel), 0u);
  // Gateway deleted: its objects go (the store has no garbage collector of its own).
  ASSERT_TRUE(store_->remove(
      kube::ObjectRef{"gateway.networking.k8s.io/v1", "Gateway", "shop", "waypoint"}));
  settle();
  for (const char* kind : {"ServiceAccount", "Service", "Deployment"})
    EXPECT_FALSE(store_->get({"", kind, "shop", "waypoint"})) << kind;
  EXPECT_TRUE(store_->get({"", "Service", "shop", "taken"}));
}

// ---- the controller on the Kubernetes API ----

TEST(KubeApiController, TwoAgentsOneLeaderAndTakeOver) {
  testing::FakeKubeApi api;
  api.upsert("/apis/gateway.networking.k8s.io/v1/gateways", json::parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
    "metadata": {"name": "waypoint", "namespace": "shop", "uid": "gw-1", "generation": 1},
    "spec": {"gatewayClassName": "warren-waypoint",
             "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}})"));
  kube::KubeApiConfig cfg;
  cfg.server = api.url();
  // Each agent: its own informer-fed model, controller and clock.
  struct Agent {
    ClusterModel model;
    std::unique_ptr<KubeApiInformer> informer;
    std::unique_ptr<WaypointController> controller;
    Clock::time_point now = Clock::now();
  };
  auto make = [&](Agent& a, const std::string& id) {
    a.informer = std::make_unique<KubeApiInformer>(cfg);
    ASSERT_TRUE(a.informer->start([&a](ConfigUpdate u) { a.model.apply(std::move(u)); }));
    WaypointController::Options o;
    o.lease.identity = id;
    o.clock = [&a] { return a.now; };
    a.controller =
        std::make_unique<WaypointController>(a.model, std::make_unique<kube::KubeApiStore>(cfg), o);
  };
  Agent a, b;
  make(a, "agent-a");
  make(b, "agent-b");
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return controllerCanReconcile(*a.model.snapshot()) &&
               controllerCanReconcile(*b.model.snapshot());
      },
      10s));
  a.controller->runOnce();
  b.controller->runOnce();
  EXPECT_TRUE(a.controller->leading());
  EXPECT_FALSE(b.controller->leading());
  EXPECT_EQ(api.writes("POST"), 4);  // the Lease, then ServiceAccount, Service, Deployment
  json deploy = api.object("/apis/apps/v1/deployments", "shop", "waypoint");
  ASSERT_FALSE(deploy.is_null());
  EXPECT_EQ(deploy["metadata"]["ownerReferences"][0]["uid"], "gw-1");
  EXPECT_EQ(deploy["spec"]["replicas"], 1);  // a JSON number, not "1"
  // The informer brings the Service with the API server's ClusterIP; then the status says so.
  ASSERT_TRUE(
      testing::waitFor([&] { return a.model.snapshot()->services.contains("shop/waypoint"); }, 5s));
  a.controller->runOnce();
  json gw = api.object("/apis/gateway.networking.k8s.io/v1/gateways", "shop", "waypoint");
  ASSERT_TRUE(gw["status"].is_object()) << gw.dump();
  EXPECT_EQ(gw["status"]["conditions"][1]["type"], "Programmed");
  EXPECT_EQ(gw["status"]["conditions"][1]["status"], "True");
  EXPECT_EQ(gw["status"]["addresses"][0]["value"].get<std::string>().rfind("10.96.0.", 0), 0u);
  EXPECT_GE(api.writes("PUT /status"), 1);
  // a goes away without releasing: b takes over once the lease expired, and acts.
  b.now += 20s;
  api.remove("/apis/apps/v1/deployments", "shop", "waypoint");
  ASSERT_TRUE(testing::waitFor(
      [&] {
        return !b.model.snapshot()->services.empty() && b.model.snapshot()->listed("Gateway");
      },
      5s));
  b.controller->runOnce();
  EXPECT_TRUE(b.controller->leading());
  EXPECT_FALSE(api.object("/apis/apps/v1/deployments", "shop", "waypoint").is_null());
  json lease = api.object("/apis/coordination.k8s.io/v1/leases", "warren-system",
                          "warren-waypoint-controller");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "agent-b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  a.controller->runOnce();
  EXPECT_FALSE(a.controller->leading());
  a.informer->stop();
  b.informer->stop();
}

}  // namespace
}  // namespace warren::agent
