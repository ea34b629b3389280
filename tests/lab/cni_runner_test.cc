#include "lab/cni_runner.h"

#include <gtest/gtest.h>

namespace warren::lab {
namespace {

using nlohmann::json;

TEST(CniResultTest, ParsesBridgeResult) {
  auto r = parseCniResult(R"({"cniVersion":"1.0.0","interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/run/netns/x"}],
    "ips":[{"interface":1,"address":"10.244.1.5/24","gateway":"10.244.1.1"}],"routes":[{"dst":"0.0.0.0/0"}]})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->pod_ip, "10.244.1.5");
  EXPECT_EQ(r->gateway, "10.244.1.1");
  EXPECT_EQ(r->raw["cniVersion"], "1.0.0");
}

TEST(CniResultTest, SkipsIpv6AndMalformedEntries) {
  auto r = parseCniResult(R"({"ips":[{"address":"fd00::5/64"},{"nope":1},{"address":"10.244.2.9/24"}]})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->pod_ip, "10.244.2.9");
}

TEST(CniResultTest, Errors) {
  auto e = parseCniResult(R"({"cniVersion":"1.0.0","code":11,"msg":"no IP addresses available","details":"range full"})");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("no IP addresses available"), std::string::npos);
  EXPECT_NE(e.error().message().find("range full"), std::string::npos);
  EXPECT_FALSE(parseCniResult("not json"));
  EXPECT_FALSE(parseCniResult("[1,2]"));
  EXPECT_FALSE(parseCniResult(R"({"ips":[]})"));
}

TEST(ConflistTest, BridgeHostLocalAndOptionalWarrenCni) {
  CniNodeConfig cfg{"wl-node-1", "10.244.1.0/24", "10.244.1.1", "/tmp/ipam", ""};
  json c = buildConflist(cfg);
  EXPECT_EQ(c["cniVersion"], "1.0.0");
  ASSERT_EQ(c["plugins"].size(), 1u);
  EXPECT_EQ(c["plugins"][0]["type"], "bridge");
  EXPECT_EQ(c["plugins"][0]["ipam"]["type"], "host-local");
  EXPECT_EQ(c["plugins"][0]["ipam"]["dataDir"], "/tmp/ipam");
  EXPECT_EQ(c["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.244.1.0/24");
  cfg.warren_cni_run_dir = "/lab/nodes/node-1/run";
  c = buildConflist(cfg);
  ASSERT_EQ(c["plugins"].size(), 2u);
  EXPECT_EQ(c["plugins"][1], (json{{"type", "warren-cni"}, {"runDir", "/lab/nodes/node-1/run"}}));
}

TEST(ConflistTest, PluginConfigCarriesNameVersionAndPrevResult) {
  CniNodeConfig cfg{"net", "10.244.1.0/24", "10.244.1.1", "/tmp/ipam", "/run/x"};
  json c = buildConflist(cfg);
  json first = pluginConfig(c, 0, nullptr);
  EXPECT_EQ(first["name"], "net");
  EXPECT_EQ(first["cniVersion"], "1.0.0");
  EXPECT_FALSE(first.contains("prevResult"));
  json prev = {{"ips", json::array({{{"address", "10.244.1.2/24"}}})}};
  json second = pluginConfig(c, 1, prev);
  EXPECT_EQ(second["type"], "warren-cni");
  EXPECT_EQ(second["prevResult"], prev);
}

}  // namespace
}  // namespace warren::lab
