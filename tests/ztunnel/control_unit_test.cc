// Pure pieces of the ztunnel control half: flags.
#include <gtest/gtest.h>

#include <cstdlib>

#include "ztunnel/control/ztunnel_options.h"

namespace warren::ztunnel {
namespace {

using namespace std::chrono_literals;

TEST(ZtunnelOptions, LabFlagsAndDefaults) {
  auto o = parseZtunnelOptions({"--node", "node-1", "--run-dir", "/r", "--log-level", "debug"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->node, "node-1");
  EXPECT_EQ(o->xds_address, "unix:/r/xds.sock");
  EXPECT_EQ(o->ca_address, "unix:/r/xds.sock");
  EXPECT_EQ(o->zds_socket, "/r/zds.sock");
  EXPECT_EQ(o->trust_domain, "cluster.local");
  EXPECT_EQ(o->log_level, "debug");
}

TEST(ZtunnelOptions, Overrides) {
  auto o = parseZtunnelOptions({"--node=n", "--run-dir=/r", "--xds-address", "istiod:15012",
                                "--ca-address", "ca:15012", "--zds-socket", "/z.sock",
                                "--trust-domain", "td.example"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->xds_address, "istiod:15012");
  EXPECT_EQ(o->ca_address, "ca:15012");
  EXPECT_EQ(o->zds_socket, "/z.sock");
  EXPECT_EQ(o->trust_domain, "td.example");
}

TEST(ZtunnelOptions, Errors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--run-dir", "/r"}, "--node is required"},
      {{"--node", "n"}, "--run-dir is required"},
      {{"--node", "n", "--run-dir"}, "--run-dir needs a value"},
      {{"--node", "n", "--run-dir", "/r", "--bogus", "x"}, "unknown flag --bogus"},
      {{"--node=", "--run-dir", "/r"}, "--node must not be empty"},
      {{"--node", "n", "--run-dir", "/r", "--admin-address", "0.0.0.0:15000"},
       "--admin-address 0.0.0.0:15000: the admin endpoint (log levels, config dump) listens on "
       "localhost only: 127.0.0.1:PORT, [::1]:PORT or unix:PATH"},
      {{"--node", "n", "--run-dir", "/r", "--admin-address", "[::]:15000"},
       "--admin-address [::]:15000: the admin endpoint (log levels, config dump) listens on "
       "localhost only: 127.0.0.1:PORT, [::1]:PORT or unix:PATH"},
      {{"--node", "n", "--run-dir", "/r", "--admin-address", "192.168.100.11:15000"},
       "--admin-address 192.168.100.11:15000: the admin endpoint (log levels, config dump) "
       "listens on localhost only: 127.0.0.1:PORT, [::1]:PORT or unix:PATH"},
  };
  for (const auto& c : cases) {
    auto o = parseZtunnelOptions(c.args);
    ASSERT_FALSE(o) << c.message;
    EXPECT_EQ(o.error().message(), c.message);
  }
}

TEST(ZtunnelOptions, PoolIdleTimeout) {
  ::unsetenv("POOL_UNUSED_RELEASE_TIMEOUT");
  EXPECT_EQ(parseZtunnelOptions({"--node", "n", "--run-dir", "/r"})->pool_idle_timeout, 300s)
      << "Istio ztunnel's default: 5 minutes";
  EXPECT_EQ(parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--pool-idle-timeout", "30s"})
                ->pool_idle_timeout,
            30s);
  EXPECT_EQ(parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--pool-idle-timeout=0"})
                ->pool_idle_timeout,
            0s)
      << "0: never";
  ::setenv("POOL_UNUSED_RELEASE_TIMEOUT", "2m", 1);
  EXPECT_EQ(parseZtunnelOptions({"--node", "n", "--run-dir", "/r"})->pool_idle_timeout, 120s);
  ::unsetenv("POOL_UNUSED_RELEASE_TIMEOUT");
  auto bad = parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--pool-idle-timeout", "soon"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "--pool-idle-timeout / POOL_UNUSED_RELEASE_TIMEOUT: 'soon' is not a duration (60s, 5m, "
            "24h)");
}

TEST(ZtunnelOptions, PreserveSourceIp) {
  EXPECT_TRUE(parseZtunnelOptions({"--node", "n", "--run-dir", "/r"})->preserve_source_ip)
      << "on by default, as Istio's in-pod mode";
  EXPECT_FALSE(parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--preserve-source-ip=false"})
                   ->preserve_source_ip);
  auto bad = parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--preserve-source-ip", "yes"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "--preserve-source-ip 'yes': want true or false");
}

TEST(ZtunnelOptions, KernelTls) {
  EXPECT_EQ(parseZtunnelOptions({"--node", "n", "--run-dir", "/r"})->kernel_tls,
            tls::KernelTlsMode::kAuto)
      << "the kernel's record layer where it has one";
  EXPECT_EQ(parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--kernel-tls=off"})->kernel_tls,
            tls::KernelTlsMode::kOff);
  auto bad = parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--kernel-tls", "on"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "--kernel-tls 'on': want auto or off");
}

TEST(ZtunnelOptions, AdminAddressIsLocalOnly) {
  EXPECT_EQ(parseZtunnelOptions({"--node", "n", "--run-dir", "/r"})->admin_address,
            "127.0.0.1:15000");
  for (const char* ok :
       {"127.0.0.1:15000", "127.0.0.2:1", "[::1]:15000", "unix:/r/admin.sock", "/r/admin.sock"}) {
    auto o = parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--admin-address", ok});
    EXPECT_TRUE(o) << ok << ": " << o.error().message();
  }
  auto bad = parseZtunnelOptions({"--node", "n", "--run-dir", "/r", "--admin-address", "x:1"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--admin-address"), std::string::npos);
}

}  // namespace
}  // namespace warren::ztunnel
