// warren-cni install/uninstall/status: the pure decisions as tables, and the installer on a
// temporary conf dir (chain, idempotence, .conf conversion, re-chaining on rewrite through
// inotify, uninstall).
#include "agent/cni/cni_install.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/cni_config_dir.h"

namespace warren::cni {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const json kBridge = json::parse(R"({"cniVersion":"1.0.0","name":"k8s","plugins":[
  {"type":"bridge","bridge":"cni0","ipam":{"type":"host-local","subnet":"10.244.1.0/24"}},
  {"type":"portmap","capabilities":{"portMappings":true}}]})");

TEST(CniInstallDecisions, PrimaryConfigIsFirstByNameWithAConfigExtension) {
  struct Row {
    std::vector<std::string> names;
    std::optional<std::string> want;
  };
  const std::vector<Row> rows = {
      {{}, std::nullopt},
      {{"README", "x.txt"}, std::nullopt},
      {{"20-b.conflist", "10-a.conflist"}, "10-a.conflist"},
      {{"10-calico.conflist", "05-cilium.conf"}, "05-cilium.conf"},
      {{"87-podman.json", "99-loopback.conf"}, "87-podman.json"},
      {{".10-a.conflist.warren-tmp", "20-b.conflist"}, "20-b.conflist"},
      {{".hidden.conflist"}, std::nullopt},
      {{".conflist"}, std::nullopt},
  };
  for (const auto& r : rows) EXPECT_EQ(primaryCniConfigName(r.names), r.want);
}

TEST(CniInstallDecisions, ChainingAppendsOneEntryLastAndKeepsThePrimaryPlugins) {
  auto c = chainedConfig(kBridge, "/var/run/warren");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ((*c)["plugins"].size(), 3u);
  EXPECT_EQ((*c)["plugins"][0]["type"], "bridge");
  EXPECT_EQ((*c)["plugins"][1]["type"], "portmap");
  EXPECT_EQ((*c)["plugins"][2], (json{{"type", "warren-cni"}, {"runDir", "/var/run/warren"}}));
  EXPECT_EQ((*c)["name"], "k8s");
  EXPECT_TRUE(isChained(*c, "/var/run/warren"));
  EXPECT_FALSE(isChained(*c, "/other"));
  EXPECT_FALSE(isChained(kBridge, "/var/run/warren"));
  // Chaining again changes nothing; a stale entry (other runDir, not last) is replaced.
  EXPECT_EQ(*chainedConfig(*c, "/var/run/warren"), *c);
  json stale = kBridge;
  stale["plugins"].insert(stale["plugins"].begin(), json{{"type", "warren-cni"}, {"runDir", "/x"}});
  EXPECT_FALSE(isChained(stale, "/var/run/warren"));
  EXPECT_EQ(*chainedConfig(stale, "/var/run/warren"), *c);
  // Unchaining gives the primary config back.
  EXPECT_EQ(unchainedConfig(*c), kBridge);
  EXPECT_EQ(unchainedConfig(kBridge), kBridge);
}

TEST(CniInstallDecisions, SinglePluginConfBecomesAList) {
  json conf = json::parse(
      R"({"cniVersion":"0.4.0","name":"net","type":"ptp","ipam":{"type":"host-local"}})");
  auto c = chainedConfig(conf, "/r");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ((*c)["cniVersion"], "0.4.0");
  EXPECT_EQ((*c)["name"], "net");
  ASSERT_EQ((*c)["plugins"].size(), 2u);
  EXPECT_EQ((*c)["plugins"][0], json::parse(R"({"type":"ptp","ipam":{"type":"host-local"}})"));
}

TEST(CniInstallDecisions, BadConfigsAreRefusedNamingWhy) {
  struct Row {
    const char* text;
    const char* error;
  };
  const std::vector<Row> rows = {
      {R"([1,2])", "not a JSON object"},
      {R"({"name":"x"})", "neither 'plugins' nor a plugin 'type'"},
      {R"({"plugins":[]})", "'plugins' is not a non-empty list"},
      {R"({"plugins":{}})", "'plugins' is not a non-empty list"},
      {R"({"plugins":[{"bridge":"x"}]})", "a plugin entry has no 'type'"},
      {R"({"plugins":[{"type":"warren-cni"}]})", "no primary plugin"},
  };
  for (const auto& r : rows) {
    auto c = chainedConfig(json::parse(r.text), "/r");
    ASSERT_FALSE(c) << r.text;
    EXPECT_NE(c.error().message().find(r.error), std::string::npos)
        << r.text << ": " << c.error().message();
  }
}

TEST(CniInstallDecisions, ToolArguments) {
  auto ok_cmd = parseCniToolArgs(
      {"install", "--cni-bin-dir=/b", "--cni-conf-dir", "/c", "--run-dir=/r", "--watch"});
  ASSERT_TRUE(ok_cmd) << ok_cmd.error().message();
  const auto& c = std::get<CniToolCommand>(*ok_cmd);
  EXPECT_EQ(c.tool, CniTool::kInstall);
  EXPECT_EQ(c.options.bin_dir, "/b");
  EXPECT_EQ(c.options.conf_dir, "/c");
  EXPECT_EQ(c.options.run_dir, "/r");
  EXPECT_TRUE(c.options.watch);
  auto defaults = parseCniToolArgs({"status"});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(std::get<CniToolCommand>(*defaults).options.conf_dir, "/etc/cni/net.d");
  EXPECT_TRUE(std::holds_alternative<CniToolHelp>(*parseCniToolArgs({"uninstall", "--help"})));
  struct Row {
    std::vector<std::string> args;
    const char* error;
  };
  const std::vector<Row> bad = {
      {{"instal"}, "unknown subcommand 'instal'"},
      {{"install", "--cni-conf=/c"}, "unknown flag --cni-conf"},
      {{"install", "--run-dir"}, "--run-dir needs a value"},
      {{"install", "--run-dir=rel"}, "absolute path"},
      {{"uninstall", "--watch"}, "--watch is a flag of install only"},
      {{"install", "stray"}, "unexpected argument 'stray'"},
  };
  for (const auto& r : bad) {
    auto p = parseCniToolArgs(r.args);
    ASSERT_FALSE(p) << r.args[0];
    EXPECT_NE(p.error().message().find(r.error), std::string::npos) << p.error().message();
  }
}

class CniInstallerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-cni-install-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/net.d");
    opts_.bin_dir = dir_ + "/bin";
    opts_.conf_dir = dir_ + "/net.d";
    opts_.run_dir = "/var/run/warren";
    opts_.self_binary = dir_ + "/plugin";
    std::ofstream(opts_.self_binary) << "#!/bin/sh\necho plugin\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const json& j) {
    std::ofstream(opts_.conf_dir + "/" + name) << j.dump(2);
  }
  json read(const std::string& name) {
    std::ifstream f(opts_.conf_dir + "/" + name);
    std::stringstream ss;
    ss << f.rdbuf();
    return json::parse(ss.str(), nullptr, false);
  }
  std::string dir_;
  CniInstallOptions opts_;
};

TEST_F(CniInstallerFiles, InstallChainsThePrimaryOnlyAndCopiesTheBinary) {
  write("10-bridge.conflist", kBridge);
  write("99-other.conflist", kBridge);
  CniInstaller inst(opts_);
  EXPECT_FALSE(inst.status());
  ASSERT_TRUE(inst.install());
  EXPECT_EQ(inst.lastAction(), "chained 10-bridge.conflist");
  EXPECT_TRUE(isChained(read("10-bridge.conflist"), "/var/run/warren"));
  EXPECT_EQ(read("99-other.conflist"), kBridge);
  EXPECT_EQ(::access((opts_.bin_dir + "/warren-cni").c_str(), X_OK), 0);
  EXPECT_TRUE(inst.status());
  ASSERT_TRUE(inst.install());
  EXPECT_EQ(inst.lastAction(), "already chained 10-bridge.conflist");
  ASSERT_TRUE(inst.uninstall());
  EXPECT_EQ(read("10-bridge.conflist"), kBridge);
  EXPECT_NE(::access((opts_.bin_dir + "/warren-cni").c_str(), F_OK), 0);
  auto st = inst.status();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("is not installed"), std::string::npos);
}

TEST_F(CniInstallerFiles, NoNetworkConfigYetIsAnErrorNamingTheDir) {
  CniInstaller inst(opts_);
  auto s = inst.install();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("no CNI network config in " + opts_.conf_dir),
            std::string::npos);
}

TEST_F(CniInstallerFiles, ConfFileIsReplacedByAConflist) {
  write("10-ptp.conf", json::parse(R"({"cniVersion":"1.0.0","name":"n","type":"ptp"})"));
  CniInstaller inst(opts_);
  ASSERT_TRUE(inst.install());
  EXPECT_FALSE(fs::exists(opts_.conf_dir + "/10-ptp.conf"));
  EXPECT_TRUE(isChained(read("10-ptp.conflist"), "/var/run/warren"));
}

TEST_F(CniInstallerFiles, WatchRechainsWhenThePrimaryCniRewritesItsFile) {
  write("10-bridge.conflist", kBridge);
  CniInstaller inst(opts_);
  ASSERT_TRUE(inst.install());
  std::atomic<bool> stop{false};
  Status watched = ok();
  std::thread t([&] { watched = inst.watch(stop); });
  auto chainedWithin = [&](const std::string& name) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (isChained(read(name), "/var/run/warren")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  // The primary CNI rewrites its file in place, then a new one sorts first.
  write("10-bridge.conflist", kBridge);
  EXPECT_TRUE(chainedWithin("10-bridge.conflist"));
  write("05-new.conflist", kBridge);
  EXPECT_TRUE(chainedWithin("05-new.conflist"));
  stop = true;
  t.join();
  EXPECT_TRUE(watched) << watched.error().message();
  // Stopping leaves it installed (an update follows); uninstall cleans every file.
  EXPECT_TRUE(inst.status());
  ASSERT_TRUE(inst.uninstall());
  EXPECT_EQ(read("05-new.conflist"), kBridge);
  EXPECT_EQ(read("10-bridge.conflist"), kBridge);
}

}  // namespace
}  // namespace warren::cni
