// The mesh control clients against the REAL agent (tests/mesh/control/agent_fixture.h): delta
// xDS into a SnapshotStore, the CA client, the certificate manager.
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "common/identity/chain_verification.h"
#include "common/identity/pem.h"
#include "mesh/control/ca_client.h"
#include "mesh/control/certificate_manager.h"
#include "mesh/control/xds_client.h"
#include "tests/mesh/control/agent_fixture.h"

namespace warren::mesh {
namespace {

using namespace testing;

TEST_F(AgainstAgent, XdsWorkloadAppearsAndLeaves) {
  SnapshotStore store;
  XdsClientOptions o;
  o.target = target_;
  o.node_id = xdsNodeId("127.0.0.1", "ztunnel-node-a", "warren-system");
  XdsClient client(o, store);
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
  XdsStats st = client.stats();
  EXPECT_GE(st.acks, 2u);
  EXPECT_EQ(st.nacks, 0u) << st.last_nack;

  // A deleted pod is removed by name (delta removal).
  fs::remove(root_ / "manifests" / "pod-far.yaml");
  EXPECT_TRUE(eventually([&] { return !has("far"); })) << store.current()->toJson().dump();
  EXPECT_TRUE(has("web"));
  EXPECT_EQ(client.stats().nacks, 0u);
  client.stop();
}

TEST_F(AgainstAgent, XdsRetriesUntilTheServerIsUp) {
  // Point at a socket that appears only later: the client must keep retrying.
  agent_->stop();
  agent_.reset();
  SnapshotStore store;
  XdsClientOptions o;
  o.target = target_;
  o.node_id = "ztunnel~127.0.0.1~z.ns~ns.svc.cluster.local";
  o.initial_backoff = 100ms;
  o.max_backoff = 200ms;
  XdsClient client(o, store);
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

TEST_F(AgainstAgent, CertificateForALocalPodVerifiesAgainstTheRoot) {
  CaClient ca(target_);
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

TEST_F(AgainstAgent, CertificateForAnotherNodesPodIsRefused) {
  CaClient ca(target_);
  // Wait until the model has the local pod, so a refusal is about the node, not timing.
  ASSERT_TRUE(eventually([&] { return ca.fetch(id("web-sa"), 5s).has_value(); }));
  auto cert = ca.fetch(id("far-sa"), 5s);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code(), ErrorCode::kPermissionDenied) << cert.error().message();
  EXPECT_NE(cert.error().message().find("far-sa"), std::string::npos) << cert.error().message();
}

TEST_F(AgainstAgent, CertificateManagerFetchesAndBacksOff) {
  CaClient ca(target_);
  CertificateManager mgr([&](const identity::SpiffeId& i) { return ca.fetch(i, 5s); }, 50ms, 200ms);
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

}  // namespace
}  // namespace warren::mesh
