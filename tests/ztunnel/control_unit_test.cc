// Pure pieces of the ztunnel control half: flags, back-off, xDS conversion errors.
#include <gtest/gtest.h>

#include "ztunnel/control/backoff.h"
#include "ztunnel/control/xds_client.h"
#include "ztunnel/control/ztunnel_options.h"
#include "ztunnel/state/xds_convert.h"

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
  };
  for (const auto& c : cases) {
    auto o = parseZtunnelOptions(c.args);
    ASSERT_FALSE(o) << c.message;
    EXPECT_EQ(o.error().message(), c.message);
  }
}

TEST(Backoff, DoublesUpToTheCapAndResets) {
  Backoff b(1s, 150s);
  std::vector<long> got;
  for (int i = 0; i < 10; ++i)
    got.push_back(std::chrono::duration_cast<std::chrono::seconds>(b.next()).count());
  EXPECT_EQ(got, (std::vector<long>{1, 2, 4, 8, 16, 32, 64, 128, 150, 150}));
  b.reset();
  EXPECT_EQ(b.next(), 1s);
}

TEST(XdsNodeId, IstioShape) {
  EXPECT_EQ(xdsNodeId("10.0.0.1", "ztunnel-abc", "istio-system"),
            "ztunnel~10.0.0.1~ztunnel-abc.istio-system~istio-system.svc.cluster.local");
}

TEST(XdsConvert, WorkloadFields) {
  istio::workload::Address a;
  auto* w = a.mutable_workload();
  w->set_uid("c//Pod/ns/p");
  w->set_name("p");
  w->set_namespace_("ns");
  w->add_addresses(std::string("\x0a\x00\x00\x07", 4));
  w->set_tunnel_protocol(istio::workload::HBONE);
  w->set_service_account("sa");
  w->set_node("node-1");
  (*w->mutable_services())["ns/s.ns.svc.cluster.local"].add_ports()->set_service_port(80);
  w->mutable_capacity()->set_value(3);
  auto c = convertAddress(a);
  ASSERT_TRUE(c) << c.error().message();
  auto& wl = std::get<Workload>(*c);
  EXPECT_EQ(wl.uid, "c//Pod/ns/p");
  ASSERT_EQ(wl.addresses.size(), 1u);
  EXPECT_EQ(wl.addresses[0].toString(), "10.0.0.7");
  EXPECT_EQ(wl.tunnel_protocol, TunnelProtocol::kHbone);
  EXPECT_EQ(wl.node, "node-1");
  EXPECT_EQ(wl.capacity, 3u);
  EXPECT_EQ(wl.services.at("ns/s.ns.svc.cluster.local").at(80), 0);
}

TEST(XdsConvert, ErrorsNameTheResourceAndField) {
  istio::workload::Address bad_ip;
  bad_ip.mutable_workload()->set_uid("u1");
  bad_ip.mutable_workload()->add_addresses("abc");
  auto r1 = convertAddress(bad_ip);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message().find("workload u1"), std::string::npos) << r1.error().message();
  EXPECT_NE(r1.error().message().find("addresses[0]"), std::string::npos) << r1.error().message();

  istio::workload::Address empty;
  EXPECT_FALSE(convertAddress(empty));

  istio::workload::Address bad_port;
  auto* s = bad_port.mutable_service();
  s->set_namespace_("ns");
  s->set_hostname("h");
  s->add_ports()->set_service_port(70000);
  auto r2 = convertAddress(bad_port);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("ports[0].service_port 70000"), std::string::npos)
      << r2.error().message();

  istio::security::Authorization pol;
  pol.set_name("p");
  pol.set_namespace_("ns");
  pol.add_groups()->add_rules()->add_matches()->add_principals();  // no match_type
  auto r3 = convertAuthorization(pol);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message().find("authorization ns/p"), std::string::npos);
  EXPECT_NE(r3.error().message().find("groups[0].rules[0].matches[0]"), std::string::npos)
      << r3.error().message();
}

TEST(XdsConvert, Authorization) {
  istio::security::Authorization pol;
  pol.set_name("deny-plain");
  pol.set_namespace_("ns");
  pol.set_scope(istio::security::NAMESPACE);
  pol.set_action(istio::security::DENY);
  auto* m = pol.add_groups()->add_rules()->add_matches();
  m->add_not_principals()->mutable_presence();
  auto* ip = m->add_source_ips();
  ip->set_address(std::string("\x0a\x00\x00\x00", 4));
  ip->set_length(8);
  m->add_destination_ports(8080);
  auto r = convertAuthorization(pol);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->key(), "ns/deny-plain");
  EXPECT_EQ(r->scope, AuthorizationScope::kNamespace);
  EXPECT_EQ(r->action, AuthorizationAction::kDeny);
  const auto& match = r->groups.at(0).rules.at(0).matches.at(0);
  EXPECT_EQ(match.not_principals.at(0).kind, StringMatch::Kind::kPresence);
  EXPECT_EQ(match.source_ips.at(0).toString(), "10.0.0.0/8");
  EXPECT_EQ(match.destination_ports.at(0), 8080);
}

}  // namespace
}  // namespace warren::ztunnel
