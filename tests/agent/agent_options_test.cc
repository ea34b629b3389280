#include "agent/cli/agent_options.h"

#include <gtest/gtest.h>

namespace warren::agent {
namespace {

TEST(AgentOptions, AcceptsExactlyTheLabFlags) {
  auto cmd = parseAgentArgs({"--node",         "node-1",
                             "--node-ip",      "10.0.0.2",
                             "--run-dir",      "/r",
                             "--manifests",    "/m",
                             "--ca-dir",       "/ca",
                             "--cgroup",       "/sys/fs/cgroup/wl/node-1",
                             "--bpf-pin-dir",  "/sys/fs/bpf/warren/node-1",
                             "--pod-cidr",     "10.244.1.0/24",
                             "--trust-domain", "cluster.local",
                             "--log-level",    "info"});
  ASSERT_TRUE(cmd) << cmd.error().message();
  const auto& o = std::get<AgentOptions>(*cmd);
  EXPECT_EQ(o.node, "node-1");
  EXPECT_EQ(o.node_ip, "10.0.0.2");
  EXPECT_EQ(o.run_dir, "/r");
  EXPECT_EQ(o.manifests, "/m");
  EXPECT_EQ(o.ca_dir, "/ca");
  EXPECT_EQ(o.cgroup, "/sys/fs/cgroup/wl/node-1");
  EXPECT_EQ(o.bpf_pin_dir, "/sys/fs/bpf/warren/node-1");
  EXPECT_EQ(o.pod_cidr, "10.244.1.0/24");
  EXPECT_EQ(o.trust_domain, "cluster.local");
  EXPECT_EQ(o.ztunnel_admin, "127.0.0.1:15000") << "the lab does not pass it: the default";
}

TEST(AgentOptions, ZtunnelAdminAddress) {
  auto cmd = parseAgentArgs({"--node", "n1", "--ztunnel-admin", "127.0.0.1:25000"});
  ASSERT_TRUE(cmd) << cmd.error().message();
  EXPECT_EQ(std::get<AgentOptions>(*cmd).ztunnel_admin, "127.0.0.1:25000");
}

TEST(AgentOptions, ControllerRole) {
  auto with_node = parseAgentArgs({"--node", "n1", "--controller", "--waypoint-image", "r/w:1"});
  ASSERT_TRUE(with_node) << with_node.error().message();
  const auto& o = std::get<AgentOptions>(*with_node);
  EXPECT_TRUE(o.controller);
  EXPECT_FALSE(o.controller_only);
  EXPECT_EQ(o.waypoint_image, "r/w:1");
  EXPECT_EQ(o.lease_namespace, "warren-system");
  auto alone = parseAgentArgs({"--controller-only", "--controller-id", "c-1"});
  ASSERT_TRUE(alone) << alone.error().message();
  EXPECT_TRUE(std::get<AgentOptions>(*alone).controller) << "--controller-only implies the role";
  EXPECT_EQ(std::get<AgentOptions>(*alone).controller_id, "c-1");
  EXPECT_EQ(std::get<AgentOptions>(*alone).bpf_pin_dir, "");
  auto none = parseAgentArgs({"--controller"});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("--node is required (unless --controller-only)"),
            std::string::npos);
  EXPECT_FALSE(std::get<AgentOptions>(*parseAgentArgs({"--node", "n1"})).controller);
}

TEST(AgentOptions, Table) {
  struct Case {
    std::vector<std::string> args;
    bool ok;
    std::string error_has;
  };
  const Case cases[] = {
      {{"--node=n1"}, true, ""},
      {{}, false, "--node is required"},
      {{"--node", "n1", "--bogus", "x"}, false, "unknown flag --bogus"},
      {{"--node", "n1", "--node", "n2"}, false, "given twice"},
      {{"--node"}, false, "needs a value"},
      {{"--node", "n1", "stray"}, false, "unexpected argument 'stray'"},
      {{"--node", "n1", "--trust-domain", "a/b"}, false, "must not contain"},
      {{"uninstall", "--bpf-pin-dir", "/p", "--cgroup", "/c"}, true, ""},
      {{"uninstall", "--node", "n1"}, false, "unknown flag --node"},
      {{"--node", "n1", "--sockmap-fast-path"}, true, ""},
      {{"--sockmap-fast-path", "--node", "n1"}, true, ""},
      {{"--node", "n1", "--sockmap-fast-path=false"}, true, ""},
      {{"--node", "n1", "--sockmap-fast-path=yes"}, false, "takes true or false"},
      {{"--node", "n1", "--sockmap-fast-path", "--sockmap-fast-path"}, false, "given twice"},
      {{"uninstall", "--sockmap-fast-path"}, false, "unknown flag --sockmap-fast-path"},
  };
  for (const auto& c : cases) {
    auto r = parseAgentArgs(c.args);
    EXPECT_EQ(bool(r), c.ok) << (c.args.empty() ? "(none)" : c.args[0]);
    if (!r && !c.ok) {
      EXPECT_NE(r.error().message().find(c.error_has), std::string::npos) << r.error().message();
    }
  }
  auto d = parseAgentArgs({"--node", "n9"});
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<AgentOptions>(*d).bpf_pin_dir, "/sys/fs/bpf/warren/n9");
  EXPECT_FALSE(std::get<AgentOptions>(*d).sockmap_fast_path) << "off by default";
  auto on = parseAgentArgs({"--sockmap-fast-path", "--node", "n9"});
  ASSERT_TRUE(on);
  EXPECT_TRUE(std::get<AgentOptions>(*on).sockmap_fast_path);
  EXPECT_EQ(std::get<AgentOptions>(*on).node, "n9") << "a boolean flag takes no value word";
  auto off = parseAgentArgs({"--node", "n9", "--sockmap-fast-path=false"});
  ASSERT_TRUE(off);
  EXPECT_FALSE(std::get<AgentOptions>(*off).sockmap_fast_path);
  auto u = parseAgentArgs({"uninstall", "--bpf-pin-dir=/p", "--cgroup=/c", "--run-dir=/r"});
  ASSERT_TRUE(u);
  EXPECT_EQ(std::get<UninstallOptions>(*u).bpf_pin_dir, "/p");
  EXPECT_EQ(std::get<UninstallOptions>(*u).cgroup, "/c");
  EXPECT_EQ(std::get<UninstallOptions>(*u).run_dir, "/r");
}

}  // namespace
}  // namespace warren::agent
