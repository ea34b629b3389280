// ztunnel's control clients against the REAL agent (NodeAgent in-process: manifest-directory
// informer, delta xDS + CA gRPC servers on <run-dir>/xds.sock, ZDS server on zds.sock), and the
// ZDS client binding per-pod listeners inside a test-created netns (root).
#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/node/node_agent.h"
#include "agent/zds/zds_server.h"
#include "common/http/http_client.h"
#include "common/identity/chain_verification.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"
#include "common/netns.h"
#include "mesh/control/ca_client.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/control/xds_client.h"
#include "tests/common/identity/test_ca.h"
#include "ztunnel/control/zds_client.h"
#include "ztunnel/control/ztunnel_daemon.h"

namespace warren::ztunnel {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls `cond` every 50 ms for up to `limit`.
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

std::string namespaceYaml(const std::string& name) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name +
         "\n  labels:\n    warren.dev/dataplane-mode: ambient\n";
}

std::string podYaml(const std::string& ns, const std::string& name, const std::string& node,
                    const std::string& ip, const std::string& sa) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\n  uid: uid-" + name + "\n  labels:\n    app: " + name + "\nspec:\n  nodeName: " + node +
         "\n  serviceAccountName: " + sa +
         "\n  containers:\n  - name: app\n    image: warren-probe\nstatus:\n  phase: Running\n"
         "  podIP: " +
         ip + "\n";
}

class ZtunnelAgainstAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-ztd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "run");
    fs::create_directories(root_ / "manifests");
    fs::create_directories(root_ / "ca");
    identity::testing::writeFile((root_ / "ca" / "ca.crt").string(), ca_.certPem());
    identity::testing::writeFile((root_ / "ca" / "ca.key").string(),
                                 identity::privateKeyToPem(ca_.key()).value());
    writeAtomically(root_ / "manifests" / "ns-demo.yaml", namespaceYaml("demo"));
    writeAtomically(root_ / "manifests" / "pod-web.yaml",
                    podYaml("demo", "web", "node-a", "10.244.1.5", "web-sa"));
    writeAtomically(root_ / "manifests" / "pod-far.yaml",
                    podYaml("demo", "far", "node-b", "10.244.2.5", "far-sa"));

    agent::AgentOptions o;
    o.node = "node-a";
    o.run_dir = (root_ / "run").string();
    o.manifests = (root_ / "manifests").string();
    o.ca_dir = (root_ / "ca").string();
    agent_ = std::make_unique<agent::NodeAgent>(o);
    auto s = agent_->start();
    ASSERT_TRUE(s) << s.error().message();
    target_ = "unix:" + (root_ / "run" / "xds.sock").string();
  }
  void TearDown() override {
    if (agent_) agent_->stop();
    agent_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  identity::SpiffeId id(const std::string& sa) {
    return identity::SpiffeId::make("cluster.local", "demo", sa).value();
  }

  identity::testing::TestCa ca_ = identity::testing::TestCa::root("ztd test root");
  fs::path root_;
  std::unique_ptr<agent::NodeAgent> agent_;
  std::string target_;
};

TEST_F(ZtunnelAgainstAgent, XdsWorkloadAppearsAndLeaves) {
  mesh::SnapshotStore store;
  mesh::XdsClientOptions o;
  o.target = target_;
  o.node_id = mesh::xdsNodeId("127.0.0.1", "ztunnel-node-a", "warren-system");
  mesh::XdsClient client(o, store);
  client.start();
  auto has = [&](const std::string& name) {
    nlohmann::json dump = store.current()->toJson();  // keep it alive for the loop
    for (const auto& w : dump["workloads"]) {
      if (w.value("name", "") == name) return true;
    }
    return false;
  };
  ASSERT_TRUE(eventually([&] { return has("web") && has("far"); }))
      << store.current()->toJson().dump();
  EXPECT_TRUE(eventually([&] { return client.synced(); }));
  mesh::XdsStats st = client.stats();
  EXPECT_GE(st.acks, 2u);
  EXPECT_EQ(st.nacks, 0u) << st.last_nack;

  // A deleted pod is removed by name (delta removal).
  fs::remove(root_ / "manifests" / "pod-far.yaml");
  EXPECT_TRUE(eventually([&] { return !has("far"); })) << store.current()->toJson().dump();
  EXPECT_TRUE(has("web"));
  EXPECT_EQ(client.stats().nacks, 0u);
  client.stop();
}

TEST_F(ZtunnelAgainstAgent, XdsRetriesUntilTheServerIsUp) {
  // Point at a socket that appears only later: the client must keep retrying.
  agent_->stop();
  agent_.reset();
  mesh::SnapshotStore store;
  mesh::XdsClientOptions o;
  o.target = target_;
  o.node_id = "ztunnel~127.0.0.1~z.ns~ns.svc.cluster.local";
  o.initial_backoff = 100ms;
  o.max_backoff = 200ms;
  mesh::XdsClient client(o, store);
  client.start();
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(client.synced());
  agent::AgentOptions ao;
  ao.node = "node-a";
  ao.run_dir = (root_ / "run").string();
  ao.manifests = (root_ / "manifests").string();
  ao.ca_dir = (root_ / "ca").string();
  agent_ = std::make_unique<agent::NodeAgent>(ao);
  ASSERT_TRUE(agent_->start());
  EXPECT_TRUE(eventually([&] { return client.synced() && store.current()->workloadCount() >= 2; }));
  EXPECT_GE(client.stats().stream_failures, 1u);
  client.stop();
}

TEST_F(ZtunnelAgainstAgent, CertificateForALocalPodVerifiesAgainstTheRoot) {
  mesh::CaClient ca(target_);
  Result<identity::WorkloadCertificate> cert = fail(Error::invalid("not tried"));
  // The agent's model loads the manifests asynchronously: retry until it knows the pod.
  ASSERT_TRUE(eventually([&] {
    cert = ca.fetch(id("web-sa"), 5s);
    return cert.has_value();
  })) << cert.error().message();
  EXPECT_EQ(cert->identity(), id("web-sa"));
  ASSERT_EQ(cert->roots().size(), 1u);
  EXPECT_EQ(X509_cmp(cert->roots()[0].get(), ca_.cert()), 0);
  std::vector<ossl::X509Ptr> roots;
  roots.push_back(identity::shareCertificate(ca_.cert()));
  auto verified = identity::verifyCertificateChain(cert->leaf(), cert->intermediates(), roots,
                                                   std::chrono::system_clock::now(),
                                                   {{id("web-sa")}, "cluster.local"});
  ASSERT_TRUE(verified) << verified.error().message();
  // Refresh at half-life of the 24 h default.
  auto life = cert->notAfter() - cert->notBefore();
  EXPECT_EQ(cert->refreshAt(), cert->notBefore() + life / 2);
}

TEST_F(ZtunnelAgainstAgent, CertificateForAnotherNodesPodIsRefused) {
  mesh::CaClient ca(target_);
  // Wait until the model has the local pod, so a refusal is about the node, not timing.
  ASSERT_TRUE(eventually([&] { return ca.fetch(id("web-sa"), 5s).has_value(); }));
  auto cert = ca.fetch(id("far-sa"), 5s);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code(), ErrorCode::kPermissionDenied) << cert.error().message();
  EXPECT_NE(cert.error().message().find("far-sa"), std::string::npos) << cert.error().message();
}

TEST_F(ZtunnelAgainstAgent, CertificateManagerFetchesAndBacksOff) {
  mesh::CaClient ca(target_);
  mesh::CertificateManager mgr([&](const identity::SpiffeId& i) { return ca.fetch(i, 5s); }, 50ms,
                               200ms);
  mgr.start();
  mgr.setWanted("test", {id("web-sa"), id("far-sa")});
  ASSERT_TRUE(eventually([&] { return mgr.get(id("web-sa")) != nullptr; })) << mgr.toJson().dump();
  // far-sa keeps failing (another node's pod) and is retried with back-off, not dropped.
  EXPECT_TRUE(eventually([&] { return mgr.failed() >= 3; })) << mgr.toJson().dump();
  EXPECT_EQ(mgr.get(id("far-sa")), nullptr);
  auto dump = mgr.toJson();
  bool saw_error = false;
  for (const auto& e : dump) {
    if (e["identity"] == id("far-sa").uri()) saw_error = !e.value("last_error", "").empty();
  }
  EXPECT_TRUE(saw_error) << dump.dump();
  // Not wanted any more: forgotten.
  mgr.setWanted("test", {id("web-sa")});
  EXPECT_TRUE(eventually([&] { return mgr.toJson().size() == 1; }));
  mgr.stop();
}

TEST_F(ZtunnelAgainstAgent, DaemonServesConfigDumpReadinessAndMetrics) {
  ZtunnelOptions o;
  o.node = "node-a";
  o.run_dir = (root_ / "run").string();
  o.xds_address = target_;
  o.ca_address = target_;
  o.zds_socket = (root_ / "run" / "zds.sock").string();
  o.admin_address = "127.0.0.1:0";
  o.metrics_address = "127.0.0.1:0";
  o.readiness_address = "127.0.0.1:0";
  ZtunnelDaemon daemon(o);
  ASSERT_TRUE(daemon.start());
  auto get = [](const http::ListenAddress& a, const std::string& path) {
    auto r = http::httpRequest(a, http::ClientRequest::get(path));
    return r ? *r : http::HttpResponse::text(0, r.error().message());
  };
  // The workload from xDS and its certificate (wanted because xDS places it on node-a).
  ASSERT_TRUE(eventually([&] {
    auto r = get(daemon.adminAddress(), "/config_dump");
    if (r.status != 200) return false;
    auto j = nlohmann::json::parse(r.body);
    bool workload = false, cert = false;
    for (const auto& w : j["workloads"]) workload |= w.value("name", "") == "web";
    for (const auto& c : j["certificates"]) {
      cert |= c["identity"] == id("web-sa").uri() && c["state"] == "Valid";
    }
    return workload && cert;
  })) << get(daemon.adminAddress(), "/config_dump").body;
  EXPECT_TRUE(eventually([&] {
    return get(daemon.readinessAddress(), "/healthz/ready").status == 200;
  })) << get(daemon.readinessAddress(), "/healthz/ready").body;
  auto m = get(daemon.metricsAddress(), "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("warren_ztunnel_xds_acks_total"), std::string::npos);
  EXPECT_NE(m.body.find("warren_ztunnel_certificates_issued_total"), std::string::npos);
  EXPECT_NE(m.body.find("process_open_fds"), std::string::npos);
  auto lvl = get(daemon.adminAddress(), "/api/v1/log");
  EXPECT_EQ(lvl.status, 200) << lvl.body;
  daemon.stop();
}

// ---- ZDS: listeners inside a real netns (root) ----

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

class ZdsListeners : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (ip netns add)";
    netns_ = "ztd-zds-" + std::to_string(::getpid());
    ASSERT_EQ(std::system(("ip netns add " + netns_).c_str()), 0);
    std::system(("ip netns exec " + netns_ + " ip link set lo up").c_str());
    char tmpl[] = "/tmp/warren-ztd-zds-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!netns_.empty()) std::system(("ip netns del " + netns_ + " 2>/dev/null").c_str());
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  std::string listening() { return run("ip netns exec " + netns_ + " ss -ltnH 2>/dev/null"); }
  std::string netns_;
  fs::path dir_;
};

TEST_F(ZdsListeners, AddBindsPodListenersAndDelClosesThem) {
  auto server = zds::ZdsServer::start((dir_ / "zds.sock").string(), 3s);
  ASSERT_TRUE(server) << server.error().message();
  (*server)->markReady();  // the agent does this once it knows its pods
  ZdsClient::Pods seen;
  std::mutex mu;
  ZdsClientOptions o;
  o.socket_path = (dir_ / "zds.sock").string();
  ZdsClient client(o, [&](const ZdsClient::Pods& pods) {
    std::lock_guard lock(mu);
    seen = pods;
  });
  client.start();
  ASSERT_TRUE(eventually([&] { return client.snapshotReceived(); }));

  auto fd = openNetns("/run/netns/" + netns_);
  ASSERT_TRUE(fd) << fd.error().message();
  zds::ZdsWorkload w{"uid-1", "web", "demo", "web-sa", std::make_shared<UniqueFd>(std::move(*fd))};
  auto added = (*server)->add(w);
  ASSERT_TRUE(added) << added.error().message();  // acked with an empty error
  std::string ss = listening();
  EXPECT_NE(ss.find(":15001"), std::string::npos) << ss;
  EXPECT_NE(ss.find(":15006"), std::string::npos) << ss;
  EXPECT_NE(ss.find(":15008"), std::string::npos) << ss;
  // Nothing leaked into our own netns.
  EXPECT_EQ(run("ss -ltnH 'sport = :15006'").find(":15006"), std::string::npos);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0]->service_account, "web-sa");
    EXPECT_EQ(seen[0]->identity.uri(), "spiffe://cluster.local/ns/demo/sa/web-sa");
    EXPECT_EQ(seen[0]->workload_uid, "Kubernetes//Pod/demo/web");
  }
  EXPECT_EQ(client.toJson()[0]["uid"], "uid-1");

  ASSERT_TRUE((*server)->remove("uid-1"));
  EXPECT_TRUE(eventually([&] { return client.pods().empty(); }));
  ss = listening();
  EXPECT_EQ(ss.find(":15001"), std::string::npos) << ss;
  EXPECT_EQ(ss.find(":15006"), std::string::npos) << ss;
  EXPECT_EQ(ss.find(":15008"), std::string::npos) << ss;
  client.stop();
}

TEST_F(ZdsListeners, ReconnectReplaysAndKeepsListeners) {
  auto path = (dir_ / "zds.sock").string();
  auto server = zds::ZdsServer::start(path, 3s);
  ASSERT_TRUE(server);
  (*server)->markReady();  // the agent does this once it knows its pods
  auto fd = openNetns("/run/netns/" + netns_);
  ASSERT_TRUE(fd);
  auto netns = std::make_shared<UniqueFd>(std::move(*fd));
  // Known before the client connects: replayed, then snapshot_sent.
  (void)(*server)->add(zds::ZdsWorkload{"uid-1", "web", "demo", "web-sa", netns});
  ZdsClientOptions o;
  o.socket_path = path;
  o.initial_backoff = 50ms;
  ZdsClient client(o);
  client.start();
  ASSERT_TRUE(eventually([&] { return client.snapshotReceived() && client.pods().size() == 1; }));
  EXPECT_NE(listening().find(":15008"), std::string::npos);

  // The agent restarts without the pod: after the new snapshot the pod is gone.
  server->reset();
  auto again = zds::ZdsServer::start(path, 3s);
  ASSERT_TRUE(again);
  (*again)->markReady();  // the agent does this once it knows its pods
  EXPECT_TRUE(eventually([&] { return client.pods().empty(); }));
  EXPECT_EQ(listening().find(":15008"), std::string::npos);
  client.stop();
}

TEST_F(ZdsListeners, AddFailsWhenAPortIsTakenAndLeavesNothingBound) {
  // A port already taken in the pod netns by a non-SO_REUSEPORT socket: the add fails with
  // an ack error naming the port, and nothing stays bound.
  std::string blocker_cmd =
      "ip netns exec " + netns_ +
      " /usr/bin/python3 -c 'import socket,time;s=socket.socket();"
      "s.bind((\"0.0.0.0\",15006));s.listen();time.sleep(20)' >/dev/null 2>&1 & echo $!";
  std::string pid = run(blocker_cmd);
  ASSERT_TRUE(eventually([&] { return listening().find(":15006") != std::string::npos; }, 5s));
  auto path = (dir_ / "zds.sock").string();
  auto server = zds::ZdsServer::start(path, 3s);
  ASSERT_TRUE(server);
  (*server)->markReady();  // the agent does this once it knows its pods
  ZdsClientOptions o;
  o.socket_path = path;
  ZdsClient client(o);
  client.start();
  ASSERT_TRUE(eventually([&] { return client.snapshotReceived(); }));
  auto fd = openNetns("/run/netns/" + netns_);
  ASSERT_TRUE(fd);
  auto added = (*server)->add(
      zds::ZdsWorkload{"uid-2", "web", "demo", "sa", std::make_shared<UniqueFd>(std::move(*fd))});
  EXPECT_FALSE(added);
  EXPECT_TRUE(client.pods().empty());
  std::string ss = listening();
  EXPECT_EQ(ss.find(":15001"), std::string::npos) << ss;
  std::system(("kill " + pid).c_str());
  client.stop();
}

}  // namespace
}  // namespace warren::ztunnel
