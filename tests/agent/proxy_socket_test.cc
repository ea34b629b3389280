// The proxy socket (<run-dir>/proxy/xds.sock) with real processes in real cgroups (root):
// a real NodeAgent, and warren-xds-probe started inside each pod's cgroup. The agent knows the
// caller only from the kernel (SO_PEERCRED -> /proc/<pid>/cgroup -> pod): a waypoint pod gets
// its own routes and its own certificate; a pod that is not a waypoint, a process in no pod
// and a pod of another node are refused, and so is a waypoint asking for another identity.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/node/node_agent.h"
#include "common/kernel_mounts.h"
#include "test_util.h"

namespace warren::agent {
namespace {

using namespace testing;

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct ProbeResult {
  int exit_code = -1;
  std::string out, err;
};

const char* kUid = "1c2d3e4f-aaaa-bbbb-cccc-123456789abc";

class ProxySocket : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root (cgroups)";
    auto cg = cgroup2Mount();
    if (!cg) GTEST_SKIP() << "no cgroup v2: " << cg.error().message();
    const char* bin = std::getenv("WARREN_BIN_DIR");
    probe_ = std::string(bin ? bin : WARREN_TEST_BIN_DIR) + "/warren-xds-probe";
    if (::access(probe_.c_str(), X_OK) != 0) GTEST_SKIP() << probe_ << " not built";
    cgroot_ = *cg + "/warren-proxy-test-" + std::to_string(::getpid());
    for (const std::string& sub : {std::string("pod-shop-waypoint-0"),
                                   std::string("pod-shop-client"), std::string("pod-shop-far"),
                                   std::string("kubepods.slice/kubepods-burstable.slice/"
                                               "kubepods-burstable-pod1c2d3e4f_aaaa_bbbb_cccc_"
                                               "123456789abc.slice/cri-containerd-1.scope")})
      std::filesystem::create_directories(cgroot_ + "/" + sub);
    k8s_cgroup_ = cgroot_ +
                  "/kubepods.slice/kubepods-burstable.slice/"
                  "kubepods-burstable-pod1c2d3e4f_aaaa_bbbb_cccc_123456789abc.slice/"
                  "cri-containerd-1.scope";

    manifests_ = dir_.path() + "/manifests";
    const std::string ca = dir_.path() + "/ca";
    std::filesystem::create_directories(manifests_);
    std::filesystem::create_directories(ca);
    ASSERT_EQ(run("openssl ecparam -name prime256v1 -genkey -noout -out " + ca + "/ca.key"), 0);
    ASSERT_EQ(run("openssl req -x509 -new -key " + ca +
                  "/ca.key -subj /O=warren-test -days 2 -out " + ca +
                  "/ca.crt -addext basicConstraints=critical,CA:TRUE -addext "
                  "keyUsage=critical,keyCertSign,cRLSign"),
              0);
    writeAtomically(manifests_, "cluster.yaml",
                    std::string(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {warren.dev/dataplane-mode: ambient, warren.dev/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec: {gatewayClassName: warren-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp2, namespace: shop}
spec: {gatewayClassName: warren-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-0, namespace: shop, uid: 0a0a0a0a-0000-0000-0000-000000000001, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node-1, serviceAccountName: waypoint, containers: [{name: w}]}
status: {phase: Running, podIP: 10.244.1.50}
---
apiVersion: v1
kind: Pod
metadata: {name: wp2-k8s, namespace: shop, uid: )") +
                        kUid + R"(, labels: {gateway.networking.k8s.io/gateway-name: wp2}}
spec: {nodeName: node-1, serviceAccountName: wp2, containers: [{name: w}]}
status: {phase: Running, podIP: 10.244.1.51}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: c}]}
status: {phase: Running, podIP: 10.244.1.20}
---
apiVersion: v1
kind: Pod
metadata: {name: far, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node-2, serviceAccountName: waypoint, containers: [{name: w}]}
status: {phase: Running, podIP: 10.244.2.50}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: api}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: shop, labels: {warren.dev/use-waypoint: wp2}}
spec: {clusterIP: 10.96.0.11, selector: {app: other}, ports: [{name: http, port: 80}]}
)");
    AgentOptions o;
    o.node = "node-1";
    o.run_dir = dir_.path() + "/run";
    o.manifests = manifests_;
    o.ca_dir = ca;
    agent_ = std::make_unique<NodeAgent>(o);
    auto s = agent_->start();
    ASSERT_TRUE(s) << s.error().message();
    socket_ = o.run_dir + "/proxy/xds.sock";
  }

  void TearDown() override {
    if (agent_) agent_->stop();
    if (cgroot_.empty()) return;
    // Deepest first; every probe has exited (waited for) by now.
    std::vector<std::string> dirs;
    for (auto it = std::filesystem::recursive_directory_iterator(cgroot_);
         it != std::filesystem::recursive_directory_iterator(); ++it)
      if (it->is_directory()) dirs.push_back(it->path().string());
    std::sort(dirs.begin(), dirs.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(cgroot_.c_str());
  }

  // warren-xds-probe ARGS..., started inside `cgroup` (moved there before exec), bounded.
  ProbeResult probeIn(const std::string& cgroup, std::vector<std::string> args) {
    ProbeResult r;
    const std::string out = dir_.path() + "/probe.out", err = dir_.path() + "/probe.err";
    const std::string procs = cgroup + "/cgroup.procs";
    args.insert(args.begin(), {probe_, "--socket", socket_});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0\n", 2) != 2) ::_exit(120);
      ::close(fd);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        ADD_FAILURE() << "probe did not finish";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  TempDir dir_;
  std::string probe_, cgroot_, k8s_cgroup_, manifests_, socket_;
  std::unique_ptr<NodeAgent> agent_;
};

TEST_F(ProxySocket, AWaypointGetsItsOwnRoutesOnly) {
  auto lab_shape = probeIn(cgroot_ + "/pod-shop-waypoint-0", {"xds", "--type", "routes", "--json"});
  ASSERT_EQ(lab_shape.exit_code, 0) << lab_shape.err;
  EXPECT_NE(lab_shape.out.find("\"name\":\"shop/api.shop.svc.cluster.local\""), std::string::npos)
      << lab_shape.out;
  EXPECT_NE(lab_shape.out.find("\"waypoint\":\"shop/waypoint\""), std::string::npos);
  EXPECT_EQ(lab_shape.out.find("other.shop"), std::string::npos) << lab_shape.out;
  // The Kubernetes cgroup shape (systemd driver) finds the pod by uid: wp2 sees its Service.
  auto k8s_shape = probeIn(k8s_cgroup_, {"xds", "--type", "routes", "--json"});
  ASSERT_EQ(k8s_shape.exit_code, 0) << k8s_shape.err;
  EXPECT_NE(k8s_shape.out.find("\"name\":\"shop/other.shop.svc.cluster.local\""), std::string::npos)
      << k8s_shape.out;
  EXPECT_EQ(k8s_shape.out.find("api.shop"), std::string::npos) << k8s_shape.out;
  // Addresses are not scoped: a waypoint needs every workload.
  auto addresses =
      probeIn(cgroot_ + "/pod-shop-waypoint-0",
              {"xds", "--type", "address", "--wait-for", "Kubernetes//Pod/shop/client"});
  EXPECT_EQ(addresses.exit_code, 0) << addresses.err;
}

TEST_F(ProxySocket, OthersAreRefused) {
  auto client = probeIn(cgroot_ + "/pod-shop-client", {"xds", "--type", "routes"});
  EXPECT_EQ(client.exit_code, 1);
  EXPECT_NE(client.err.find("code 7"), std::string::npos) << client.err;  // PERMISSION_DENIED
  EXPECT_NE(client.err.find("pod shop/client is not a waypoint"), std::string::npos) << client.err;

  auto nobody = probeIn(cgroot_, {"xds", "--type", "routes"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.err.find("no pod of node node-1 runs in cgroup"), std::string::npos)
      << nobody.err;

  auto far = probeIn(cgroot_ + "/pod-shop-far", {"xds", "--type", "routes"});
  EXPECT_EQ(far.exit_code, 1);
  EXPECT_NE(far.err.find("no pod of node node-1 runs in cgroup"), std::string::npos) << far.err;
}

TEST_F(ProxySocket, TheCaSignsTheCallersOwnIdentityOnly) {
  auto own = probeIn(cgroot_ + "/pod-shop-waypoint-0",
                     {"cert", "--identity", "spiffe://cluster.local/ns/shop/sa/waypoint"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  std::ofstream(dir_.path() + "/chain.pem") << own.out;
  ASSERT_EQ(std::system(("openssl x509 -in " + dir_.path() +
                         "/chain.pem -noout -ext subjectAltName > " + dir_.path() + "/san.txt 2>&1")
                            .c_str()),
            0);
  EXPECT_NE(slurp(dir_.path() + "/san.txt").find("URI:spiffe://cluster.local/ns/shop/sa/waypoint"),
            std::string::npos);

  auto other = probeIn(cgroot_ + "/pod-shop-waypoint-0",
                       {"cert", "--identity", "spiffe://cluster.local/ns/shop/sa/client"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("code 7"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("may only ask for its own identity "
                           "spiffe://cluster.local/ns/shop/sa/waypoint, not "
                           "spiffe://cluster.local/ns/shop/sa/client"),
            std::string::npos)
      << other.err;

  auto client = probeIn(cgroot_ + "/pod-shop-client",
                        {"cert", "--identity", "spiffe://cluster.local/ns/shop/sa/client"});
  EXPECT_EQ(client.exit_code, 1);
  EXPECT_NE(client.err.find("is not a waypoint"), std::string::npos) << client.err;
}

}  // namespace
}  // namespace warren::agent
