// ztunnel's daemon against the REAL agent (tests/mesh/control/agent_fixture.h), and the ZDS
// client binding per-pod listeners inside a test-created netns (root).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "agent/zds/zds_server.h"
#include "common/http/http_client.h"
#include "common/netns.h"
#include "tests/mesh/control/agent_fixture.h"
#include "tests/ztunnel/command_output.h"
#include "ztunnel/control/zds_client.h"
#include "ztunnel/control/ztunnel_daemon.h"

namespace warren::ztunnel {
namespace {

using mesh::testing::AgainstAgent;
using mesh::testing::eventually;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_F(AgainstAgent, DaemonServesConfigDumpReadinessAndMetrics) {
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

std::string run(const std::string& cmd) { return testing::commandOutput(cmd); }

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
  o.listeners.sockets_per_port = 3;  // a ztunnel with 3 workers: one socket each per port
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
  // Three sockets per port in one SO_REUSEPORT group; a restarted ztunnel's join them (the
  // lab's rolling restarts: test_ztunnel_resilience.sh).
  for (const char* port : {":15001 ", ":15006 ", ":15008 "}) {
    size_t n = 0;
    for (size_t at = ss.find(port); at != std::string::npos; at = ss.find(port, at + 1)) ++n;
    EXPECT_EQ(n, 3u) << port << " in\n" << ss;
  }
  EXPECT_EQ(client.toJson()[0]["sockets_per_port"], 3);
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
