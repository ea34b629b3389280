// The admin API end to end in one process: a real NodeAgent (manifest directory, xDS + CA on
// xds.sock, admin.sock) and a whole ztunnel daemon (xDS and CA clients, certificate manager,
// admin endpoint on a unix socket, and its io_uring data path) that the agent proxies;
// requests go over admin.sock with warren_http's client, as warrenctl sends them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/node/node_agent.h"
#include "common/http/http_client.h"
#include "common/identity/private_key.h"
#include "common/log.h"
#include "tests/bpf/bpf_test_env.h"
#include "tests/common/identity/test_ca.h"
#include "warren_abi.h"
#include "ztunnel/control/ztunnel_daemon.h"

namespace warren::agent::admin {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

template <class F>
bool eventually(F cond, std::chrono::milliseconds limit = 15s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

void writeAtomically(const fs::path& path, const std::string& text) {
  fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp);
    out << text;
  }
  fs::rename(tmp, path);
}

// Pod IPs from TEST-NET-2 (RFC 5737). No CNI ADD comes for these pods, so no netns is known for
// them (the agent takes netns from CNI only, never by address).
constexpr const char* kManifests = R"(apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, uid: uid-web, labels: {app: web}}
spec:
  nodeName: node-a
  serviceAccountName: web-sa
  containers: [{name: app, image: x, ports: [{name: http, containerPort: 8080}]}]
status: {phase: Running, podIP: 198.51.100.5}
---
apiVersion: v1
kind: Pod
metadata: {name: far, namespace: demo, uid: uid-far, labels: {app: web}}
spec: {nodeName: node-b, serviceAccountName: far-sa, containers: [{name: app, image: x}]}
status: {phase: Running, podIP: 198.51.100.6}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {clusterIP: 10.96.0.20, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: demo}
spec: {selector: {matchLabels: {app: web}}, rules: [{to: [{operation: {ports: ["8080"]}}]}]}
)";

class AdminApi : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-admin-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (const char* d : {"run", "manifests", "ca"}) fs::create_directories(root_ / d);
    identity::testing::writeFile((root_ / "ca" / "ca.crt").string(), ca_.certPem());
    identity::testing::writeFile((root_ / "ca" / "ca.key").string(),
                                 identity::privateKeyToPem(ca_.key()).value());
    writeAtomically(root_ / "manifests" / "cluster.yaml", kManifests);
    ztunnel_admin_ = "unix:" + (root_ / "ztunnel-admin.sock").string();
  }
  void TearDown() override {
    if (ztunnel_) ztunnel_->stop();
    ztunnel_.reset();
    if (agent_) agent_->stop();
    agent_.reset();
    (void)log::setLevel("info");
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  AgentOptions agentOptions() {
    AgentOptions o;
    o.node = "node-a";
    o.run_dir = (root_ / "run").string();
    o.manifests = (root_ / "manifests").string();
    o.ca_dir = (root_ / "ca").string();
    o.ztunnel_admin = ztunnel_admin_;
    return o;
  }
  void startAgent(AgentOptions o) {
    agent_ = std::make_unique<NodeAgent>(std::move(o));
    auto s = agent_->start();
    ASSERT_TRUE(s) << s.error().message();
  }
  void startZtunnel() {
    ztunnel::ZtunnelOptions o;
    o.node = "node-a";
    o.run_dir = (root_ / "run").string();
    o.xds_address = "unix:" + (root_ / "run" / "xds.sock").string();
    o.ca_address = o.xds_address;
    o.zds_socket = (root_ / "run" / "zds.sock").string();
    o.admin_address = ztunnel_admin_;
    o.metrics_address = "127.0.0.1:0";
    o.readiness_address = "127.0.0.1:0";
    o.workers = 2;  // the whole daemon, data path included, as warren-ztunnel runs it
    ztunnel_ = std::make_unique<ztunnel::ZtunnelDaemon>(o);
    ASSERT_TRUE(ztunnel_->start());
  }

  http::HttpResponse call(const std::string& method, const std::string& target) {
    auto r =
        http::httpRequest(http::ListenAddress::unixSocket((root_ / "run" / "admin.sock").string()),
                          http::ClientRequest::withMethod(method, target));
    return r ? *r : http::HttpResponse::text(0, r.error().message());
  }
  json getJson(const std::string& target, int want_status = 200) {
    auto r = call("GET", target);
    EXPECT_EQ(r.status, want_status) << target << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << target;
    return json::parse(r.body, nullptr, false);
  }
  static void expectEnvelope(const json& d, const std::string& kind) {
    EXPECT_EQ(d.value("kind", ""), kind) << d.dump();
    EXPECT_EQ(d.value("node", ""), "node-a") << d.dump();
    EXPECT_TRUE(d.contains("items") && d["items"].is_array()) << d.dump();
  }

  identity::testing::TestCa ca_ = identity::testing::TestCa::root("admin test root");
  fs::path root_;
  std::string ztunnel_admin_;
  std::unique_ptr<NodeAgent> agent_;
  std::unique_ptr<ztunnel::ZtunnelDaemon> ztunnel_;
};

TEST_F(AdminApi, EveryRouteAnswersItsSchema) {
  startAgent(agentOptions());
  startZtunnel();
  // Root only: the run dir, and each socket in it (admin, xDS + CA, ZDS, CNI).
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* name : {"admin.sock", "xds.sock", "zds.sock", "cni.sock"}) {
    ASSERT_EQ(::stat((root_ / "run" / name).c_str(), &st), 0) << name;
    EXPECT_TRUE(S_ISSOCK(st.st_mode)) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }

  ASSERT_TRUE(eventually([&] { return getJson("/api/v1/workloads")["items"].size() == 2; }))
      << call("GET", "/api/v1/workloads").body;
  json w = getJson("/api/v1/workloads");
  expectEnvelope(w, "workloads");
  for (const auto& i : w["items"]) {
    for (const char* k :
         {"uid", "name", "namespace", "node", "service_account", "identity", "addresses",
          "enrolled", "dataplane_mode", "protocol", "waypoint", "canonical_service",
          "canonical_revision", "labels", "status", "netns_cookie"})
      EXPECT_TRUE(i.contains(k)) << k << " missing in " << i.dump();
    EXPECT_EQ(i["node"], i["name"] == "web" ? "node-a" : "node-b");
  }

  json s = getJson("/api/v1/services");
  expectEnvelope(s, "services");
  ASSERT_EQ(s["items"].size(), 1u);
  EXPECT_EQ(s["items"][0]["endpoints"].size(), 2u);

  json p = getJson("/api/v1/policies");
  expectEnvelope(p, "policies");
  ASSERT_EQ(p["items"].size(), 1u);
  EXPECT_EQ(p["items"][0]["translated"], "demo/allow-web");

  // ztunnel asks the agent's CA for web-sa (xDS places web on node-a); the agent shows it.
  ASSERT_TRUE(eventually([&] {
    json certs = getJson("/api/v1/certificates");
    for (const auto& c : certs["items"])
      if (c["identity"] == "spiffe://cluster.local/ns/demo/sa/web-sa" && c["state"] == "Valid")
        return true;
    return false;
  })) << call("GET", "/api/v1/certificates").body;
  json c = getJson("/api/v1/certificates");
  expectEnvelope(c, "certificates");
  const json& cert = c["items"][0];
  for (const char* k : {"serial", "not_before", "not_after", "next_refresh"})
    EXPECT_FALSE(cert[k].get<std::string>().empty()) << k << " " << cert.dump();
  EXPECT_EQ(cert["not_after"].get<std::string>().back(), 'Z') << "RFC 3339 UTC";
  EXPECT_EQ(cert["last_error"], "");
  ASSERT_EQ(cert["chain"].size(), 2u) << "leaf, then the root";
  EXPECT_EQ(cert["chain"][0]["uri_san"], "spiffe://cluster.local/ns/demo/sa/web-sa");
  EXPECT_EQ(cert["chain"][0]["serial"], cert["serial"]);
  EXPECT_EQ(cert["chain"][1]["subject"], cert["chain"][0]["issuer"]);

  // ztunnel's data path runs (no pod enrolled: no connections).
  json conns = getJson("/api/v1/connections");
  expectEnvelope(conns, "connections");
  EXPECT_TRUE(conns["items"].empty()) << conns.dump();

  json r = getJson("/api/v1/redirection");
  expectEnvelope(r, "redirection");
  for (const char* k : {"pin_dir", "programs", "links", "counters"})
    EXPECT_TRUE(r.contains(k)) << k;
  EXPECT_NE(r.value("pins_error", "").find("--cgroup"), std::string::npos) << r.dump();

  ASSERT_TRUE(eventually([&] {
    json x = getJson("/api/v1/xds/subscribers");
    return x["items"].size() == 1 && x["items"][0]["subscriptions"].size() == 2;
  })) << call("GET", "/api/v1/xds/subscribers").body;
  json x = getJson("/api/v1/xds/subscribers");
  expectEnvelope(x, "xds-subscribers");
  EXPECT_EQ(x["items"][0]["id"].get<std::string>().rfind("ztunnel~", 0), 0u);
  for (const auto& sub : x["items"][0]["subscriptions"]) {
    EXPECT_FALSE(sub["acked_version"].get<std::string>().empty()) << sub.dump();
    EXPECT_EQ(sub["last_nack"], "");
  }

  json dump = getJson("/api/v1/config_dump");
  EXPECT_EQ(dump["node"], "node-a");
  for (const char* k : {"workloads", "services", "policies", "redirection", "xds_subscribers",
                        "certificates", "config"})
    EXPECT_TRUE(dump.contains(k)) << k;

  // Identities and certificate facts, never key or certificate material.
  for (const char* target : {"/api/v1/config_dump", "/api/v1/certificates"}) {
    std::string body = call("GET", target).body;
    EXPECT_EQ(body.find("PRIVATE KEY"), std::string::npos) << target;
    EXPECT_EQ(body.find("-----BEGIN"), std::string::npos) << target;
  }
  EXPECT_EQ(ztunnel_->configDump().dump().find("-----BEGIN"), std::string::npos);

  json v = getJson("/api/v1/version");
  EXPECT_EQ(v["component"], "warren-agent");
  EXPECT_FALSE(v["version"].get<std::string>().empty());
  EXPECT_TRUE(v.contains("git_commit"));

  EXPECT_EQ(call("GET", "/api/v1/nope").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/workloads").status, 405);
}

TEST_F(AdminApi, LogLevelGetPutForBothComponentsAndBadInput) {
  startAgent(agentOptions());
  startZtunnel();
  json g = getJson("/api/v1/log");
  EXPECT_EQ(g["component"], "agent");

  auto put = call("PUT", "/api/v1/log?level=debug");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(json::parse(put.body)["level"], "debug");
  EXPECT_EQ(getJson("/api/v1/log?component=agent")["level"], "debug");

  auto bad = call("PUT", "/api/v1/log?level=loud");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(json::parse(bad.body).value("error", "").find("loud"), std::string::npos) << bad.body;
  EXPECT_EQ(getJson("/api/v1/log")["level"], "debug") << "a bad PUT changes nothing";

  // ztunnel's level goes through its own admin endpoint (here in-process: same spdlog).
  auto zt = call("PUT", "/api/v1/log?component=ztunnel&level=warn");
  ASSERT_EQ(zt.status, 200) << zt.body;
  EXPECT_EQ(json::parse(zt.body)["component"], "ztunnel");
  EXPECT_EQ(json::parse(zt.body)["level"], "warn");
  EXPECT_EQ(getJson("/api/v1/log?component=ztunnel")["level"], "warn");
  auto zt_bad = call("PUT", "/api/v1/log?component=ztunnel&level=nope");
  EXPECT_EQ(zt_bad.status, 400) << zt_bad.body;
  EXPECT_NE(zt_bad.body.find("nope"), std::string::npos) << zt_bad.body;

  auto unknown = call("GET", "/api/v1/log?component=waypoint");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("waypoint"), std::string::npos) << unknown.body;
}

TEST_F(AdminApi, UnreachableZtunnelIs503NamingIt) {
  AgentOptions o = agentOptions();  // nobody serves ztunnel_admin_
  startAgent(o);
  for (const char* target :
       {"/api/v1/certificates", "/api/v1/connections", "/api/v1/log?component=ztunnel"}) {
    json e = getJson(target, 503);
    EXPECT_EQ(
        e.value("error", "").rfind("ztunnel admin at " + ztunnel_admin_ + " unreachable: ", 0), 0u)
        << target << ": " << e.dump();
  }
  // The agent's own documents do not depend on ztunnel.
  getJson("/api/v1/workloads");
  json dump = getJson("/api/v1/config_dump");
  EXPECT_TRUE(dump.contains("certificates_error"));
}

TEST_F(AdminApi, BadZtunnelAdminFlagFailsStartNamingIt) {
  AgentOptions o = agentOptions();
  o.ztunnel_admin = "not an address";
  NodeAgent agent(o);
  auto s = agent.start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("--ztunnel-admin"), std::string::npos) << s.error().message();
}

TEST_F(AdminApi, RedirectionShowsTheAttachedProgramsLinksAndCounters) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to load BPF programs";
  redirect::testing::TempCgroup cgroup;
  ASSERT_TRUE(cgroup.ok());
  redirect::testing::TempPinDir pins;
  AgentOptions o = agentOptions();
  o.cgroup = cgroup.path();
  o.bpf_pin_dir = pins.path();
  startAgent(o);
  json r = getJson("/api/v1/redirection");
  expectEnvelope(r, "redirection");
  EXPECT_FALSE(r.contains("pins_error")) << r.dump();
  EXPECT_EQ(r["pin_dir"], pins.path());
  EXPECT_EQ(r["programs"].size(), 4u) << "the four cgroup programs (no pod enrolled)";
  ASSERT_EQ(r["links"].size(), 4u) << r.dump(2);
  for (const auto& l : r["links"]) {
    EXPECT_EQ(l["type"], "cgroup");
    EXPECT_EQ(l["target"], cgroup.path()) << l.dump();
    EXPECT_GT(l["id"].get<uint32_t>(), 0u);
    EXPECT_EQ(l["pin"].get<std::string>().rfind(pins.path() + "/link_", 0), 0u);
  }
  EXPECT_EQ(r["counters"].size(), size_t(WARREN_CNT_MAX));
  EXPECT_TRUE(r["counters"].contains("connect_redirected")) << r["counters"].dump();
  agent_->stop();  // before the pins and the cgroup go
  agent_.reset();
}

}  // namespace
}  // namespace warren::agent::admin
