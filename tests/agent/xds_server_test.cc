// The agent's gRPC servers end to end: a real NodeAgent watching a manifest directory, real
// gRPC clients over the real unix socket <run-dir>/xds.sock.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <thread>

#include "agent/node/node_agent.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "istio/ca/ca.grpc.pb.h"
#include "istio/workload/workload.pb.h"
#include "common/identity/csr.h"
#include "common/identity/private_key.h"
#include "manifests.h"
#include "test_util.h"

namespace warren::agent {
namespace {

using namespace testing;
namespace ds = envoy::service::discovery::v3;
using std::chrono::milliseconds;

constexpr const char* kAddress = "type.googleapis.com/istio.workload.Address";
constexpr const char* kAuthz = "type.googleapis.com/istio.security.Authorization";

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// One delta xDS stream with a reader thread, so the test can wait for a response with a limit.
class XdsTestClient {
 public:
  explicit XdsTestClient(const std::string& socket) {
    channel_ = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
    stub_ = ds::AggregatedDiscoveryService::NewStub(channel_);
    stream_ = stub_->DeltaAggregatedResources(&ctx_);
    reader_ = std::thread([this] {
      ds::DeltaDiscoveryResponse r;
      while (stream_->Read(&r)) {
        std::lock_guard lock(mu_);
        responses_.push_back(r);
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      closed_ = true;
      cv_.notify_all();
    });
  }
  ~XdsTestClient() {
    ctx_.TryCancel();
    reader_.join();
  }
  bool send(const ds::DeltaDiscoveryRequest& r) { return stream_->Write(r); }
  void subscribe(const std::string& type, const std::map<std::string, std::string>& initial = {}) {
    ds::DeltaDiscoveryRequest r;
    r.mutable_node()->set_id("ztunnel~10.0.0.1~test.warren-system~warren-system.svc.cluster.local");
    r.set_type_url(type);
    for (const auto& [k, v] : initial) (*r.mutable_initial_resource_versions())[k] = v;
    ASSERT_TRUE(send(r));
  }
  void ack(const ds::DeltaDiscoveryResponse& resp, const std::string& nack_message = "") {
    ds::DeltaDiscoveryRequest r;
    r.set_type_url(resp.type_url());
    r.set_response_nonce(resp.nonce());
    if (!nack_message.empty()) {
      r.mutable_error_detail()->set_code(3);
      r.mutable_error_detail()->set_message(nack_message);
    }
    ASSERT_TRUE(send(r));
  }
  std::optional<ds::DeltaDiscoveryResponse> next(milliseconds limit = milliseconds(2000)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return !responses_.empty() || closed_; });
    if (responses_.empty()) return std::nullopt;
    auto r = responses_.front();
    responses_.pop_front();
    return r;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ds::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<ds::DeltaDiscoveryRequest, ds::DeltaDiscoveryResponse>> stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ds::DeltaDiscoveryResponse> responses_;
  bool closed_ = false;
};

istio::workload::Workload workloadOf(const ds::Resource& r) {
  istio::workload::Address a;
  EXPECT_TRUE(r.resource().UnpackTo(&a));
  return a.workload();
}

const ds::Resource* find(const ds::DeltaDiscoveryResponse& resp, const std::string& name) {
  for (const auto& r : resp.resources())
    if (r.name() == name) return &r;
  return nullptr;
}

class AgentServers : public ::testing::Test {
 protected:
  void SetUp() override {
    manifests_ = dir_.path() + "/manifests";
    ca_dir_ = dir_.path() + "/ca";
    std::filesystem::create_directories(manifests_);
    std::filesystem::create_directories(ca_dir_);
    ASSERT_EQ(run("openssl ecparam -name prime256v1 -genkey -noout -out " + ca_dir_ + "/ca.key"), 0);
    ASSERT_EQ(run("openssl req -x509 -new -key " + ca_dir_ + "/ca.key -subj /O=warren-test -days 2 -out " +
                  ca_dir_ + "/ca.crt -addext basicConstraints=critical,CA:TRUE -addext "
                  "keyUsage=critical,keyCertSign,cRLSign"), 0);
    writeAtomically(manifests_, "ns-shop.yaml", namespaceYaml("shop", "ambient"));
    writeAtomically(manifests_, "pod-web-1.yaml", podYaml("shop", "web-1", "node-1", "10.244.1.5", "app: web", "web"));
    writeAtomically(manifests_, "pod-db-1.yaml", podYaml("shop", "db-1", "node-2", "10.244.2.5", "app: db", "db"));
    AgentOptions o;
    o.node = "node-1";
    o.run_dir = dir_.path() + "/run";
    o.manifests = manifests_;
    o.ca_dir = ca_dir_;
    agent_ = std::make_unique<NodeAgent>(o);
    auto s = agent_->start();
    ASSERT_TRUE(s) << s.error().message();
    socket_ = o.run_dir + "/xds.sock";
  }
  void TearDown() override {
    if (agent_) agent_->stop();
  }

  TempDir dir_;
  std::string manifests_, ca_dir_, socket_;
  std::unique_ptr<NodeAgent> agent_;
};

TEST_F(AgentServers, PodAppearsChangesAndDisappears) {
  XdsTestClient client(socket_);
  client.subscribe(kAddress);
  auto initial = client.next();
  ASSERT_TRUE(initial);
  EXPECT_EQ(initial->type_url(), kAddress);
  const ds::Resource* web = find(*initial, "Kubernetes//Pod/shop/web-1");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(workloadOf(*web).tunnel_protocol(), istio::workload::HBONE);
  EXPECT_NE(find(*initial, "Kubernetes//Pod/shop/db-1"), nullptr);
  client.ack(*initial);

  // A new pod: pushed within 100 ms of the file landing.
  auto t0 = std::chrono::steady_clock::now();
  writeAtomically(manifests_, "pod-web-2.yaml", podYaml("shop", "web-2", "node-1", "10.244.1.6"));
  auto added = client.next();
  auto latency = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(added);
  ASSERT_EQ(added->resources_size(), 1) << added->DebugString();
  EXPECT_EQ(added->resources(0).name(), "Kubernetes//Pod/shop/web-2");
  EXPECT_LT(latency, milliseconds(100));
  RecordProperty("pod_add_to_xds_push_us",
                 std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
  client.ack(*added);

  // Label change: the pod opts out, its Workload is re-sent with tunnel protocol NONE.
  writeAtomically(manifests_, "pod-web-2.yaml",
                  podYaml("shop", "web-2", "node-1", "10.244.1.6", "warren.dev/dataplane-mode: none"));
  auto changed = client.next();
  ASSERT_TRUE(changed);
  ASSERT_EQ(changed->resources_size(), 1);
  EXPECT_EQ(workloadOf(changed->resources(0)).tunnel_protocol(), istio::workload::NONE);
  client.ack(*changed, "test NACK");

  // Delete: a removal.
  std::filesystem::remove(manifests_ + "/pod-web-2.yaml");
  auto removed = client.next();
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->resources_size(), 0);
  ASSERT_EQ(removed->removed_resources_size(), 1);
  EXPECT_EQ(removed->removed_resources(0), "Kubernetes//Pod/shop/web-2");
  client.ack(*removed);

  // Per-subscriber state is observable: the last ACK and the NACK before it.
  ASSERT_TRUE(waitFor([&] {
    auto subs = agent_->xds()->subscribers();
    return subs.size() == 1 && subs[0].types.count(kAddress) &&
           subs[0].types.at(kAddress).acked_version == removed->system_version_info();
  }));
  auto st = agent_->xds()->subscribers()[0].types.at(kAddress);
  EXPECT_EQ(st.acks, 3u);
  EXPECT_EQ(st.nacks, 1u);
  EXPECT_NE(agent_->xds()->subscribers()[0].node_id.find("ztunnel~"), std::string::npos);
}

TEST_F(AgentServers, ManySubscribersAndResume) {
  XdsTestClient a(socket_), b(socket_);
  a.subscribe(kAddress);
  a.subscribe(kAuthz);
  // One response per type, in whatever order the server batches them.
  std::map<std::string, ds::DeltaDiscoveryResponse> initial;
  for (int i = 0; i < 2; ++i) {
    auto r = a.next();
    ASSERT_TRUE(r);
    initial[r->type_url()] = *r;
  }
  ASSERT_EQ(initial.count(kAddress), 1u);
  ASSERT_EQ(initial.count(kAuthz), 1u);  // empty initial answer still comes
  EXPECT_EQ(initial[kAuthz].resources_size(), 0);
  const auto* first = &initial[kAddress];
  std::map<std::string, std::string> held;
  for (const auto& r : first->resources()) held[r.name()] = r.version();
  // b resumes with a's versions plus one the server no longer has: only the removal comes.
  held["Kubernetes//Pod/shop/gone"] = "1";
  b.subscribe(kAddress, held);
  auto resumed = b.next();
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->resources_size(), 0);
  ASSERT_EQ(resumed->removed_resources_size(), 1);
  EXPECT_EQ(resumed->removed_resources(0), "Kubernetes//Pod/shop/gone");
  writeAtomically(manifests_, "policy.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-db, namespace: shop}
spec:
  action: DENY
  rules: [{to: [{operation: {ports: ["5432"]}}]}]
)");
  auto pushed = a.next();
  ASSERT_TRUE(pushed);
  EXPECT_EQ(pushed->type_url(), kAuthz);
  ASSERT_EQ(pushed->resources_size(), 1);
  EXPECT_EQ(pushed->resources(0).name(), "shop/deny-db");
  // b subscribed to addresses only: nothing for it.
  EXPECT_FALSE(b.next(milliseconds(100)));
  EXPECT_EQ(agent_->xds()->subscribers().size(), 2u);
}

istio::v1::auth::IstioCertificateResponse askCa(const std::string& socket, const std::string& csr,
                                                const std::string& identity, grpc::Status* status) {
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(channel);
  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr(csr);
  req.set_validity_duration(3600);
  if (!identity.empty())
    (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(identity);
  istio::v1::auth::IstioCertificateResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  *status = stub->CreateCertificate(&ctx, req, &resp);
  return resp;
}

std::string csrFor(const std::string& uri) {
  auto key = identity::generateEcP256Key();
  EXPECT_TRUE(key);
  auto id = identity::SpiffeId::parse(uri);
  EXPECT_TRUE(id) << uri;
  auto pem = identity::createCsrPem(key->get(), *id);
  EXPECT_TRUE(pem);
  return *pem;
}

TEST_F(AgentServers, CaSignsOnlyPodsOnThisNode) {
  const std::string web = "spiffe://cluster.local/ns/shop/sa/web";
  grpc::Status status;
  auto resp = askCa(socket_, csrFor(web), web, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(resp.cert_chain_size(), 2);
  // Leaf first, root last; openssl verify accepts the leaf against the root.
  std::string leaf = dir_.path() + "/leaf.pem", root = dir_.path() + "/root.pem";
  {
    std::ofstream(leaf) << resp.cert_chain(0);
    std::ofstream(root) << resp.cert_chain(resp.cert_chain_size() - 1);
  }
  EXPECT_EQ(run("openssl verify -CAfile " + root + " " + leaf), 0);
  EXPECT_EQ(run("cmp -s " + root + " " + ca_dir_ + "/ca.crt") , 0) << "root must be ca.crt";
  EXPECT_EQ(run("openssl x509 -in " + leaf + " -noout -ext subjectAltName | grep -q 'critical'"), 0);
  EXPECT_EQ(run("openssl x509 -in " + leaf + " -noout -ext subjectAltName | grep -q 'URI:" + web + "'"), 0);

  struct Case {
    const char* what;
    std::string csr;
    std::string identity;
    grpc::StatusCode code;
    const char* message_has;
  };
  const std::string db = "spiffe://cluster.local/ns/shop/sa/db";
  const std::string foreign = "spiffe://other.domain/ns/shop/sa/web";
  const Case cases[] = {
      {"pod on another node", csrFor(db), db, grpc::StatusCode::PERMISSION_DENIED, "only on other nodes"},
      {"wrong trust domain", csrFor(foreign), foreign, grpc::StatusCode::PERMISSION_DENIED, "trust domain"},
      {"garbage CSR", "-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n", web,
       grpc::StatusCode::INVALID_ARGUMENT, "csr"},
      {"no identity", csrFor(web), "", grpc::StatusCode::INVALID_ARGUMENT, "ImpersonatedIdentity"},
      {"not SPIFFE", csrFor(web), "https://x/ns/shop/sa/web", grpc::StatusCode::INVALID_ARGUMENT,
       "ImpersonatedIdentity"},
      {"unknown service account", csrFor("spiffe://cluster.local/ns/shop/sa/ghost"),
       "spiffe://cluster.local/ns/shop/sa/ghost", grpc::StatusCode::PERMISSION_DENIED, "runs on node node-1"},
  };
  for (const auto& c : cases) {
    askCa(socket_, c.csr, c.identity, &status);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message_has), std::string::npos)
        << c.what << ": " << status.error_message();
  }
  // An RSA key is refused even for a good identity.
  ossl::PKey rsa(EVP_RSA_gen(2048));
  ASSERT_TRUE(rsa);
  auto rsa_csr = identity::createCsrPem(rsa.get(), *identity::SpiffeId::parse(web));
  ASSERT_TRUE(rsa_csr) << rsa_csr.error().message();
  askCa(socket_, *rsa_csr, web, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("P-256"), std::string::npos) << status.error_message();
}

}  // namespace
}  // namespace warren::agent
