// Tests against the REAL agent: the fixture the mesh control clients' tests
// (tests/mesh/control) and ztunnel's daemon tests (tests/ztunnel) share.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "agent/node/node_agent.h"
#include "common/identity/private_key.h"
#include "common/identity/spiffe_id.h"
#include "tests/common/identity/test_ca.h"

namespace warren::mesh::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls `cond` every 50 ms for up to `limit`.
template <class F>
inline bool eventually(F cond, std::chrono::milliseconds limit = 15s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

inline void writeAtomically(const fs::path& path, const std::string& text) {
  fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp);
    out << text;
  }
  fs::rename(tmp, path);
}

inline std::string namespaceYaml(const std::string& name) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name +
         "\n  labels:\n    warren.dev/dataplane-mode: ambient\n";
}

inline std::string podYaml(const std::string& ns, const std::string& name, const std::string& node,
                           const std::string& ip, const std::string& sa) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\n  uid: uid-" + name + "\n  labels:\n    app: " + name + "\nspec:\n  nodeName: " + node +
         "\n  serviceAccountName: " + sa +
         "\n  containers:\n  - name: app\n    image: warren-probe\nstatus:\n  phase: Running\n"
         "  podIP: " +
         ip + "\n";
}

// The REAL agent in-process (NodeAgent: manifest-directory informer, delta xDS + CA gRPC
// servers on <run-dir>/xds.sock, ZDS server on zds.sock) with a temp manifest dir holding one
// ambient namespace "demo" and two pods: web (node-a, sa web-sa) and far (node-b, far-sa).
class AgainstAgent : public ::testing::Test {
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

}  // namespace warren::mesh::testing
