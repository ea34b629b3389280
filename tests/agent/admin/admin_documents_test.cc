// The admin API's pure document builders (agent/admin/*_documents, redirection_document):
// snapshots built from manifests, every documented field checked, and the proxy answers for
// each way ztunnel can fail.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "agent/admin/cluster_documents.h"
#include "agent/admin/proxied_documents.h"
#include "agent/admin/redirection_document.h"
#include "agent/model/cluster_model.h"
#include "tests/agent/snapshot_of.h"

namespace warren::agent::admin {
namespace {

using nlohmann::json;

using testing::snapshotOf;

const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, uid: u-web-1,
           labels: {app: web, version: v2, service.istio.io/canonical-name: web}}
spec:
  nodeName: node-1
  serviceAccountName: web
  containers: [{name: app, image: x, ports: [{name: http, containerPort: 8080}]}]
status: {phase: Running, podIP: 10.244.1.5}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, uid: u-web-2, labels: {app: web}}
spec:
  nodeName: node-2
  serviceAccountName: web
  containers: [{name: app, image: x, ports: [{name: http, containerPort: 8080}]}]
status: {phase: Pending, podIP: 10.244.2.9}
---
apiVersion: v1
kind: Pod
metadata: {name: out, namespace: shop, uid: u-out, labels: {warren.dev/dataplane-mode: none}}
spec: {nodeName: node-1, containers: [{name: app, image: x}]}
status: {phase: Running, podIP: 10.244.1.6}
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: plain, uid: u-legacy}
spec: {nodeName: node-1, containers: [{name: app, image: x}]}
status: {phase: Running, podIP: 10.244.1.7}
---
apiVersion: v1
kind: Pod
metadata: {name: no-ip, namespace: shop, uid: u-no-ip}
spec: {nodeName: node-1, containers: [{name: app, image: x}]}
status: {phase: Pending}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.20
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: raw, port: 9000}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: shop}
spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/shop/sa/client]}}]
    to: [{operation: {ports: ["8080"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: warren-system}
spec: {action: DENY, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web-permissive, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, mtls: {mode: PERMISSIVE}}
)";

TranslationContext ctx() { return TranslationContext{}; }

const json* find(const json& items, const std::string& key, const std::string& value) {
  for (const auto& i : items)
    if (i.value(key, "") == value) return &i;
  return nullptr;
}

TEST(ListDocument, HasTheSharedEnvelope) {
  json d = listDocument("workloads", "node-1", json::array({1}));
  EXPECT_EQ(d, json({{"kind", "workloads"}, {"node", "node-1"}, {"items", {1}}}));
}

TEST(WorkloadItems, EveryServedPodWithItsDocumentedFields) {
  auto snap = snapshotOf(kCluster);
  json items = workloadItems(*snap, ctx(), {{"shop/web-1", 4097}});
  // No IP: not served over xDS, so not listed. Sorted by namespace/name.
  ASSERT_EQ(items.size(), 4u) << items.dump(2);
  EXPECT_EQ(items[0]["name"], "legacy");
  EXPECT_EQ(find(items, "name", "no-ip"), nullptr);

  const json& web = *find(items, "name", "web-1");
  EXPECT_EQ(web["uid"], "u-web-1");
  EXPECT_EQ(web["namespace"], "shop");
  EXPECT_EQ(web["node"], "node-1");
  EXPECT_EQ(web["service_account"], "web");
  EXPECT_EQ(web["identity"], "spiffe://cluster.local/ns/shop/sa/web");
  EXPECT_EQ(web["addresses"], json({"10.244.1.5"}));
  EXPECT_EQ(web["enrolled"], true);
  EXPECT_EQ(web["dataplane_mode"], "ambient");
  EXPECT_EQ(web["protocol"], "HBONE");
  EXPECT_EQ(web["waypoint"], "");
  EXPECT_EQ(web["canonical_service"], "web");
  EXPECT_EQ(web["canonical_revision"], "v2");
  EXPECT_EQ(web["labels"]["app"], "web");
  EXPECT_EQ(web["status"], "Healthy");
  EXPECT_EQ(web["netns_cookie"], 4097);
  EXPECT_EQ(web["xds_uid"], "Kubernetes//Pod/shop/web-1");

  const json& far = *find(items, "name", "web-2");
  EXPECT_EQ(far["node"], "node-2");
  EXPECT_EQ(far["status"], "Unhealthy");
  EXPECT_TRUE(far["netns_cookie"].is_null());

  const json& out = *find(items, "name", "out");
  EXPECT_EQ(out["enrolled"], false);
  EXPECT_EQ(out["dataplane_mode"], "none");
  EXPECT_EQ(out["protocol"], "TCP");
  EXPECT_EQ(out["service_account"], "default");
  EXPECT_EQ(find(items, "name", "legacy")->at("labels"), json::object());
}

TEST(ServiceItems, PortsEndpointsAndVips) {
  auto snap = snapshotOf(kCluster);
  json items = serviceItems(*snap, ctx());
  ASSERT_EQ(items.size(), 1u) << "headless services are not sent: " << items.dump(2);
  const json& s = items[0];
  EXPECT_EQ(s["name"], "web");
  EXPECT_EQ(s["namespace"], "shop");
  EXPECT_EQ(s["hostname"], "web.shop.svc.cluster.local");
  EXPECT_EQ(s["vips"], json({"10.96.0.20"}));
  ASSERT_EQ(s["ports"].size(), 2u);
  EXPECT_EQ(s["ports"][0]["name"], "http");
  EXPECT_EQ(s["ports"][0]["port"], 80);
  EXPECT_TRUE(s["ports"][0]["target_port"].is_null()) << "a named port resolves per workload";
  EXPECT_EQ(s["ports"][0]["target_port_name"], "http");
  EXPECT_EQ(s["ports"][1]["target_port"], 9000) << "targetPort defaults to port";
  EXPECT_EQ(s["ports"][1]["protocol"], "TCP");
  ASSERT_EQ(s["endpoints"].size(), 2u) << s.dump(2);
  const json& ep = *find(s["endpoints"], "workload", "web-1");
  EXPECT_EQ(ep["workload_uid"], "u-web-1");
  EXPECT_EQ(ep["address"], "10.244.1.5");
  EXPECT_EQ(ep["node"], "node-1");
  EXPECT_EQ(ep["healthy"], true);
  EXPECT_EQ(find(s["endpoints"], "workload", "web-2")->at("healthy"), false);
  EXPECT_EQ(s["waypoint"], "");
}

TEST(PolicyItems, ScopeActionModeAndWhatTheyBecame) {
  auto snap = snapshotOf(kCluster);
  json items = policyItems(*snap, ctx());
  ASSERT_EQ(items.size(), 4u) << items.dump(2);
  struct Row {
    const char *name, *kind, *scope, *action, *mode, *translated;
    size_t rules;
  };
  for (const Row& r : std::vector<Row>{
           {"allow-web", "AuthorizationPolicy", "workload", "ALLOW", "", "shop/allow-web", 1},
           {"deny-all", "AuthorizationPolicy", "global", "DENY", "", "warren-system/deny-all", 1},
           {"default", "PeerAuthentication", "namespace", "DENY", "STRICT",
            "warren-system/istio_converted_static_strict", 1},
           {"web-permissive", "PeerAuthentication", "workload", "", "PERMISSIVE", "", 0},
       }) {
    const json* p = find(items, "name", r.name);
    ASSERT_NE(p, nullptr) << r.name;
    EXPECT_EQ((*p)["kind"], r.kind) << r.name;
    EXPECT_EQ((*p)["scope"], r.scope) << r.name;
    EXPECT_EQ((*p)["action"], r.action) << r.name;
    EXPECT_EQ((*p)["mode"], r.mode) << r.name;
    EXPECT_EQ((*p)["translated"], r.translated) << r.name << " " << p->dump();
    EXPECT_EQ((*p)["rules"].size(), r.rules) << r.name << " " << p->dump();
  }
  const json& allow = *find(items, "name", "allow-web");
  EXPECT_EQ(allow["selector"], json({{"app", "web"}}));
  EXPECT_NE(allow["rules"].dump().find("cluster.local/ns/shop/sa/client"), std::string::npos)
      << allow["rules"].dump();
  EXPECT_EQ(find(items, "name", "deny-all")->at("selector"), json::object());
}

std::string bytesOf(const char* ip) {
  in_addr a{};
  ::inet_pton(AF_INET, ip, &a);
  return std::string(reinterpret_cast<const char*>(&a), 4);
}

TEST(WaypointName, FromHostnameFromKnownVipAndFromUnknownVip) {
  auto snap = snapshotOf(kCluster);
  istio::workload::GatewayAddress none;
  EXPECT_EQ(waypointName(*snap, none), "");
  istio::workload::GatewayAddress by_host;
  by_host.mutable_hostname()->set_namespace_("shop");
  by_host.mutable_hostname()->set_hostname("wp.shop.svc.cluster.local");
  EXPECT_EQ(waypointName(*snap, by_host), "shop/wp");
  istio::workload::GatewayAddress by_vip;
  by_vip.mutable_address()->set_address(bytesOf("10.96.0.20"));
  EXPECT_EQ(waypointName(*snap, by_vip), "shop/web");
  by_vip.mutable_address()->set_address(bytesOf("10.96.9.9"));
  EXPECT_EQ(waypointName(*snap, by_vip), "10.96.9.9");
}

EnrolmentController::PodRedirection pod(const char* name, uint64_t cookie, uint64_t ino) {
  return {"shop", name, std::string("u-") + name, "10.244.1.5", cookie, ino};
}

TEST(PodRedirectionState, Table) {
  redirect::PinnedInventory inv;
  inv.enrolled_cookies = {7};
  struct Row {
    EnrolmentController::PodRedirection p;
    bool capture;
    const char* want;
  };
  for (const Row& r : std::vector<Row>{
           {pod("a", 0, 0), true, "pending"},
           {pod("a", 7, 1), true, "enrolled"},
           {pod("a", 8, 1), true, "failed"},
           {pod("a", 8, 1), false, "zds-only"},
           {pod("a", 0, 0), false, "pending"},
       }) {
    EXPECT_EQ(podRedirectionState(r.p, r.capture ? std::optional(inv) : std::nullopt), r.want)
        << r.p.netns_cookie << " capture " << r.capture;
  }
}

TEST(RedirectionDocument, PodsLinksProgramsAndCounters) {
  RedirectionInputs in;
  in.node = "node-1";
  in.pin_dir = "/sys/fs/bpf/warren/node-1";
  in.cgroup = "/sys/fs/cgroup/wl/node-1";
  in.cgroup_id = 55;
  in.pods = {pod("web", 4097, 900), pod("late", 0, 0)};
  in.netns_paths = {{900, "/run/netns/wl-shop-web"}};
  redirect::PinnedInventory inv;
  inv.enrolled_cookies = {4097};
  inv.programs = {{41, "warren_connect4", "cgroup/connect4", ""},
                  {44, "warren_sk_lookup", "sk_lookup", ""}};
  redirect::PinnedLink cg;
  cg.id = 7;
  cg.type = "cgroup";
  cg.attach_type = "cgroup/connect4";
  cg.prog_id = 41;
  cg.program = "warren_connect4";
  cg.cgroup_id = 55;
  cg.pin = in.pin_dir + "/link_connect4";
  redirect::PinnedLink other = cg;
  other.id = 8;
  other.cgroup_id = 99;
  redirect::PinnedLink ns;
  ns.id = 9;
  ns.type = "netns";
  ns.attach_type = "sk_lookup";
  ns.prog_id = 44;
  ns.program = "warren_sk_lookup";
  ns.netns_ino = 900;
  ns.netns_cookie = 4097;
  ns.pin = in.pin_dir + "/netns/4097";
  inv.links = {cg, other, ns};
  in.inventory = inv;
  in.counters = {{"connect_redirected", 42}, {"counter_99", 1}};
  in.pin_repairs = redirect::PinRepairs{2, 31, 1, ""};

  json d = redirectionDocument(in);
  EXPECT_EQ(d["kind"], "redirection");
  EXPECT_EQ(d["node"], "node-1");
  EXPECT_EQ(d["pin_dir"], in.pin_dir);
  ASSERT_EQ(d["items"].size(), 2u);
  EXPECT_EQ(d["items"][0],
            json({{"namespace", "shop"}, {"pod", "web"}, {"uid", "u-web"},
                  {"address", "10.244.1.5"}, {"netns_cookie", 4097},
                  {"netns", "/run/netns/wl-shop-web"}, {"state", "enrolled"}}));
  EXPECT_TRUE(d["items"][1]["netns_cookie"].is_null());
  EXPECT_EQ(d["items"][1]["netns"], "");
  EXPECT_EQ(d["items"][1]["state"], "pending");
  ASSERT_EQ(d["programs"].size(), 2u);
  EXPECT_EQ(d["programs"][0],
            json({{"name", "warren_connect4"}, {"attach_type", "cgroup/connect4"}, {"id", 41},
                  {"pin", ""}}));
  ASSERT_EQ(d["links"].size(), 3u);
  EXPECT_EQ(d["links"][0]["id"], 7);
  EXPECT_EQ(d["links"][0]["type"], "cgroup");
  EXPECT_EQ(d["links"][0]["program"], "warren_connect4");
  EXPECT_EQ(d["links"][0]["target"], "/sys/fs/cgroup/wl/node-1");
  EXPECT_EQ(d["links"][0]["pin"], in.pin_dir + "/link_connect4");
  EXPECT_EQ(d["links"][1]["target"], "cgroup id 99");
  EXPECT_EQ(d["links"][2]["target"], "netns cookie 4097");
  EXPECT_EQ(d["counters"], json({{"connect_redirected", 42}, {"counter_99", 1}}));
  EXPECT_EQ(d["pin_repairs"],
            json({{"repairs", 2}, {"pins_restored", 31}, {"failures", 1}, {"last_error", ""}}));
  EXPECT_FALSE(d.contains("pins_error"));

  RedirectionInputs off;
  off.node = "node-1";
  off.pods = {pod("web", 4097, 900)};
  off.pins_error = "eBPF capture is off";
  json o = redirectionDocument(off);
  EXPECT_EQ(o["programs"], json::array());
  EXPECT_EQ(o["links"], json::array());
  EXPECT_EQ(o["counters"], json::object());
  EXPECT_EQ(o["pins_error"], "eBPF capture is off");
  EXPECT_FALSE(o.contains("pin_repairs")) << "no capture, no pins to repair";
  EXPECT_EQ(o["items"][0]["state"], "zds-only");
}

Result<http::HttpResponse> answered(int status, std::string body) {
  return http::HttpResponse::json(status, std::move(body));
}
Result<http::HttpResponse> unreachableFetch() {
  return fail(Error(ErrorCode::kUnavailable, "connect to 127.0.0.1:15000: Connection refused"));
}

TEST(ConnectionsAnswer, EveryWayZtunnelCanAnswer) {
  const std::string z = "127.0.0.1:15000";
  struct Row {
    Result<http::HttpResponse> fetched;
    int status;
    size_t items;
    const char* error_part;
  };
  std::vector<Row> rows;
  rows.push_back({answered(200, R"({"items":[{"id":"c-1"},{"id":"c-2"}]})"), 200, 2, ""});
  rows.push_back({answered(404, "not found"), 200, 0, ""});
  rows.push_back({unreachableFetch(), 503, 0,
                  "ztunnel admin at 127.0.0.1:15000 unreachable: connect to 127.0.0.1:15000"});
  rows.push_back({answered(500, "boom\n"), 502, 0, "answered GET /connections with HTTP 500: boom"});
  rows.push_back({answered(200, "not json"), 502, 0, "not a JSON object"});
  for (const Row& r : rows) {
    AdminAnswer a = connectionsAnswer("node-1", z, r.fetched);
    EXPECT_EQ(a.status, r.status) << a.body.dump();
    if (a.status == 200) {
      EXPECT_EQ(a.body["kind"], "connections");
      EXPECT_EQ(a.body["node"], "node-1");
      EXPECT_EQ(a.body["items"].size(), r.items);
    } else {
      EXPECT_NE(a.body.value("error", "").find(r.error_part), std::string::npos)
          << a.body.dump();
    }
  }
}

TEST(CertificatesAnswer, PassesZtunnelsItemsAndFillsMissingFields) {
  const std::string z = "127.0.0.1:15000";
  json dump = {{"certificates",
                {{{"identity", "spiffe://cluster.local/ns/shop/sa/web"},
                  {"state", "Valid"},
                  {"serial", "0A"},
                  {"chain", {{{"subject", ""}}}}},
                 {{"identity", "spiffe://cluster.local/ns/shop/sa/x"}, {"state", "Pending"}}}}};
  AdminAnswer a = certificatesAnswer("node-1", z, answered(200, dump.dump()));
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["kind"], "certificates");
  ASSERT_EQ(a.body["items"].size(), 2u);
  EXPECT_EQ(a.body["items"][0]["serial"], "0A");
  EXPECT_EQ(a.body["items"][0]["chain"].size(), 1u);
  const json& pending = a.body["items"][1];
  for (const char* k : {"serial", "not_before", "not_after", "next_refresh", "last_error"})
    EXPECT_EQ(pending[k], "") << k;
  EXPECT_EQ(pending["chain"], json::array());

  EXPECT_EQ(certificatesAnswer("node-1", z, answered(200, "{}")).body["items"], json::array());
  AdminAnswer down = certificatesAnswer("node-1", z, unreachableFetch());
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.body["error"].get<std::string>().rfind(
                "ztunnel admin at 127.0.0.1:15000 unreachable: ", 0),
            0u)
      << down.body.dump();
  EXPECT_EQ(certificatesAnswer("node-1", z, answered(404, "")).status, 502);
  EXPECT_EQ(certificatesAnswer("node-1", z, answered(200, R"({"certificates": 3})")).status, 502);
}

TEST(ForwardedLogAnswer, ZtunnelsStatusAndBodyOr503) {
  AdminAnswer ok = forwardedLogAnswer("z", answered(200, R"({"component":"ztunnel","level":"debug"})"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body["level"], "debug");
  AdminAnswer bad = forwardedLogAnswer("z", answered(400, R"({"error":"unknown log level 'x'"})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"], "unknown log level 'x'");
  EXPECT_EQ(forwardedLogAnswer("z", unreachableFetch()).status, 503);
  EXPECT_EQ(forwardedLogAnswer("z", answered(500, "oops")).status, 502);
}

TEST(XdsSubscriberItems, OneItemPerStreamOneSubscriptionPerType) {
  XdsSubscriberInfo s;
  s.id = 3;
  s.node_id = "ztunnel~127.0.0.1~ztunnel-node-1.warren-system~warren-system.svc.cluster.local";
  s.peer = "unix:";
  XdsTypeState t;
  t.wildcard = true;
  t.last_sent_version = "17";
  t.acked_version = "16";
  t.last_sent_nonce = "n17";
  t.last_nack = "bad rule";
  t.resources_held = 12;
  t.acks = 4;
  t.nacks = 1;
  s.types["type.googleapis.com/istio.workload.Address"] = t;
  json items = xdsSubscriberItems("node-1", {s});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["id"], s.node_id);
  EXPECT_EQ(items[0]["node"], "node-1");
  EXPECT_EQ(items[0]["connected_at"], "");
  ASSERT_EQ(items[0]["subscriptions"].size(), 1u);
  const json& sub = items[0]["subscriptions"][0];
  EXPECT_EQ(sub["type_url"], "type.googleapis.com/istio.workload.Address");
  EXPECT_EQ(sub["sent_version"], "17");
  EXPECT_EQ(sub["acked_version"], "16");
  EXPECT_EQ(sub["nonce"], "n17");
  EXPECT_EQ(sub["resources"], 12);
  EXPECT_EQ(sub["last_nack"], "bad rule");
  EXPECT_EQ(xdsSubscriberItems("node-1", {}), json::array());
}

}  // namespace
}  // namespace warren::agent::admin
