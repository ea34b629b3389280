#include "mesh/state/xds_convert.h"

#include <gtest/gtest.h>

#include "tests/mesh/mesh_fixture.h"
#include "mesh/routing/endpoint_selector.h"
#include "mesh/state/snapshot_store.h"

namespace warren::mesh {
namespace {

namespace iw = istio::workload;
namespace is = istio::security;
namespace dv3 = envoy::service::discovery::v3;

const std::string kV4 = std::string("\x0a\xf4\x01\x0b", 4);  // 10.244.1.11
const std::string kVip = std::string("\x0a\x60\x00\x0a", 4);  // 10.96.0.10

iw::Workload workloadProto() {
  iw::Workload w;
  w.set_uid("Kubernetes//Pod/default/web-0");
  w.set_name("web-0");
  w.set_namespace_("default");
  w.add_addresses(kV4);
  std::string v6(16, '\0');
  v6[0] = '\xfd';
  v6[15] = '\x11';
  w.add_addresses(v6);
  w.set_network("");
  w.set_tunnel_protocol(iw::HBONE);
  w.set_service_account("web");
  w.set_node("node-1");
  w.set_workload_type(iw::POD);
  w.set_workload_name("web");
  w.mutable_waypoint()->mutable_hostname()->set_namespace_("default");
  w.mutable_waypoint()->mutable_hostname()->set_hostname("waypoint.default.svc.cluster.local");
  auto& ports = (*w.mutable_services())["default/web.default.svc.cluster.local"];
  auto* p = ports.add_ports();
  p->set_service_port(80);
  p->set_target_port(8080);
  w.add_authorization_policies("default/allow-client");
  w.set_status(iw::UNHEALTHY);
  w.set_cluster_id("Kubernetes");
  w.mutable_locality()->set_zone("z1");
  w.mutable_capacity()->set_value(3);
  w.mutable_application_tunnel()->set_protocol(iw::ApplicationTunnel::PROXY);
  return w;
}

iw::Service serviceProto() {
  iw::Service s;
  s.set_name("web");
  s.set_namespace_("default");
  s.set_hostname("web.default.svc.cluster.local");
  auto* a = s.add_addresses();
  a->set_address(kVip);
  auto* p = s.add_ports();
  p->set_service_port(80);
  p->set_target_port(8080);
  p->set_app_protocol(iw::HTTP11);
  s.add_subject_alt_names("spiffe://cluster.local/ns/default/sa/web");
  s.mutable_load_balancing()->add_routing_preference(iw::LoadBalancing::NODE);
  s.mutable_load_balancing()->set_mode(iw::LoadBalancing::FAILOVER);
  s.mutable_waypoint()->mutable_address()->set_address(std::string("\x0a\xf4\x02\x28", 4));
  s.mutable_waypoint()->set_hbone_mtls_port(0);  // unset: 15008
  return s;
}

is::Authorization authorizationProto() {
  is::Authorization a;
  a.set_name("allow-client");
  a.set_namespace_("default");
  a.set_scope(is::WORKLOAD_SELECTOR);
  a.set_action(is::ALLOW);
  auto* m = a.add_groups()->add_rules()->add_matches();
  m->add_principals()->set_exact("cluster.local/ns/default/sa/client");
  m->add_not_principals()->mutable_presence();
  m->add_namespaces()->set_prefix("def");
  m->add_not_namespaces()->set_suffix("-system");
  auto* ip = m->add_source_ips();
  ip->set_address(std::string("\x0a\x00\x00\x00", 4));
  ip->set_length(8);
  m->add_destination_ports(8080);
  m->add_not_destination_ports(9090);
  auto* sa = m->add_service_accounts();
  sa->set_namespace_("default");
  sa->set_serviceaccount("client");
  a.set_dry_run(true);
  return a;
}

TEST(XdsConvert, WorkloadAllFields) {
  auto w = convertWorkload(workloadProto());
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(w->uid, "Kubernetes//Pod/default/web-0");
  ASSERT_EQ(w->addresses.size(), 2u);
  EXPECT_EQ(w->addresses[0].toString(), "10.244.1.11");
  EXPECT_EQ(w->addresses[1].toString(), "fd00::11");
  EXPECT_EQ(w->tunnel_protocol, TunnelProtocol::kHbone);
  EXPECT_EQ(w->identity()->uri(), "spiffe://cluster.local/ns/default/sa/web");
  EXPECT_EQ(w->workload_type, WorkloadType::kPod);
  ASSERT_TRUE(w->waypoint);
  EXPECT_EQ(std::get<NamespacedHostname>(w->waypoint->destination).hostname,
            "waypoint.default.svc.cluster.local");
  EXPECT_EQ(w->waypoint->hbone_mtls_port, 15008);
  EXPECT_EQ(w->services.at("default/web.default.svc.cluster.local").at(80), 8080);
  EXPECT_EQ(w->authorization_policies, std::vector<std::string>{"default/allow-client"});
  EXPECT_EQ(w->status, WorkloadStatus::kUnhealthy);
  EXPECT_EQ(w->locality.zone, "z1");
  EXPECT_EQ(w->capacity, 3u);
  ASSERT_TRUE(w->application_tunnel);
  EXPECT_EQ(w->application_tunnel->protocol, ApplicationTunnelProtocol::kProxy);
  iw::Workload no_capacity = workloadProto();
  no_capacity.clear_capacity();
  EXPECT_EQ(convertWorkload(no_capacity)->capacity, 1u) << "unset capacity means 1";
}

TEST(XdsConvert, ServiceAllFields) {
  auto s = convertService(serviceProto());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->key(), "default/web.default.svc.cluster.local");
  ASSERT_EQ(s->addresses.size(), 1u);
  EXPECT_EQ(s->addresses[0].toString(), "/10.96.0.10");
  ASSERT_EQ(s->ports.size(), 1u);
  EXPECT_EQ(s->ports[0].target_port, 8080);
  EXPECT_EQ(s->ports[0].app_protocol, AppProtocol::kHttp11);
  ASSERT_TRUE(s->load_balancing);
  EXPECT_EQ(s->load_balancing->mode, LoadBalancingMode::kFailover);
  EXPECT_EQ(s->load_balancing->routing_preference,
            std::vector<LoadBalancingScope>{LoadBalancingScope::kNode});
  ASSERT_TRUE(s->waypoint);
  EXPECT_EQ(std::get<NetworkAddress>(s->waypoint->destination).address.toString(), "10.244.2.40");
  EXPECT_EQ(s->waypoint->hbone_mtls_port, 15008);
}

TEST(XdsConvert, AuthorizationAllFields) {
  auto a = convertAuthorization(authorizationProto());
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->key(), "default/allow-client");
  EXPECT_EQ(a->scope, AuthorizationScope::kWorkloadSelector);
  EXPECT_TRUE(a->dry_run);
  const auto& m = a->groups.at(0).rules.at(0).matches.at(0);
  EXPECT_EQ(m.principals.at(0).kind, StringMatch::Kind::kExact);
  EXPECT_EQ(m.not_principals.at(0).kind, StringMatch::Kind::kPresence);
  EXPECT_EQ(m.namespaces.at(0).kind, StringMatch::Kind::kPrefix);
  EXPECT_EQ(m.not_namespaces.at(0).kind, StringMatch::Kind::kSuffix);
  EXPECT_EQ(m.source_ips.at(0).toString(), "10.0.0.0/8");
  EXPECT_EQ(m.destination_ports, std::vector<uint16_t>{8080});
  EXPECT_EQ(m.not_destination_ports, std::vector<uint16_t>{9090});
  EXPECT_EQ(m.service_accounts.at(0).service_account, "client");
}

// Appends a raw varint field to a serialized message: how an enum value unknown to this
// build (or an out-of-range port) arrives from a newer control plane.
template <class M>
M withRawVarint(const M& base, int field, uint64_t value) {
  std::string bytes = base.SerializeAsString();
  bytes += static_cast<char>(field << 3);
  do {
    uint8_t b = value & 0x7f;
    value >>= 7;
    bytes += static_cast<char>(value ? b | 0x80 : b);
  } while (value);
  M out;
  EXPECT_TRUE(out.ParseFromString(bytes));
  return out;
}

TEST(XdsConvert, BadWorkloadsAreRejectedWithTheFieldNamed) {
  struct Case {
    std::string name;
    iw::Workload proto;
    std::string want;
  };
  std::vector<Case> cases;
  {
    auto w = workloadProto();
    w.set_addresses(0, "abc");
    cases.push_back({"3-byte address", w,
                     "workload Kubernetes//Pod/default/web-0: addresses[0]: IP address must be 4 "
                     "or 16 bytes, got 3"});
  }
  {
    auto w = workloadProto();
    w.clear_uid();
    cases.push_back({"no uid", w, "workload web-0: empty uid"});
  }
  cases.push_back({"unknown tunnel protocol", withRawVarint(workloadProto(), 5, 7),
                   "tunnel_protocol: unknown enum value 7"});
  {
    auto w = workloadProto();
    (*w.mutable_services())["default/web.default.svc.cluster.local"].mutable_ports(0)
        ->set_target_port(70000);
    cases.push_back({"target port too big", w,
                     "services[\"default/web.default.svc.cluster.local\"].ports[0].target_port: "
                     "invalid port 70000"});
  }
  {
    auto w = workloadProto();
    (*w.mutable_services())["nohostname"];
    cases.push_back({"services key without namespace", w,
                     "services[\"nohostname\"]: key must be namespace/hostname"});
  }
  {
    auto w = workloadProto();
    w.mutable_waypoint()->Clear();
    cases.push_back({"waypoint without destination", w,
                     "waypoint: neither hostname nor address set"});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = convertWorkload(c.proto);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().message();
  }
}

TEST(XdsConvert, BadServicesAndPoliciesAreRejectedWithTheFieldNamed) {
  auto svc = serviceProto();
  svc.mutable_ports(0)->set_service_port(0);
  auto r1 = convertService(svc);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message().find(
                "service default/web.default.svc.cluster.local: ports[0].service_port: invalid "
                "port 0"),
            std::string::npos)
      << r1.error().message();
  auto svc2 = serviceProto();
  svc2.mutable_addresses(0)->set_address("");
  EXPECT_FALSE(convertService(svc2));
  auto svc3 = serviceProto();
  svc3.clear_hostname();
  EXPECT_FALSE(convertService(svc3));

  struct Case {
    std::string name;
    is::Authorization proto;
    std::string want;
  };
  std::vector<Case> cases;
  {
    auto a = authorizationProto();
    a.mutable_groups(0)->mutable_rules(0)->mutable_matches(0)->add_principals();  // nothing set
    cases.push_back({"empty StringMatch", a,
                     "authorization default/allow-client: groups[0].rules[0].matches[0]."
                     "principals[1]: no match type set"});
  }
  {
    auto a = authorizationProto();
    a.mutable_groups(0)->mutable_rules(0)->mutable_matches(0)->mutable_source_ips(0)->set_length(
        33);
    cases.push_back({"prefix too long", a, "source_ips[0]: prefix length 33 too long"});
  }
  {
    auto a = authorizationProto();
    a.mutable_groups(0)->mutable_rules(0)->mutable_matches(0)->add_destination_ports(65536);
    cases.push_back({"port too big", a, "destination_ports[1]: invalid port 65536"});
  }
  cases.push_back({"unknown action", withRawVarint(authorizationProto(), 4, 9),
                   "action: unknown enum value 9"});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = convertAuthorization(c.proto);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().message();
  }
}

void addResource(dv3::DeltaDiscoveryResponse& resp, const std::string& name,
                 const google::protobuf::Message& body, const std::string& type_url) {
  auto* r = resp.add_resources();
  r->set_name(name);
  r->mutable_resource()->set_type_url(type_url);
  r->mutable_resource()->set_value(body.SerializeAsString());
}

TEST(XdsConvert, DeltaPushKeepsGoodResourcesAndNamesBadOnes) {
  dv3::DeltaDiscoveryResponse resp;
  resp.set_type_url(std::string(kAddressTypeUrl));
  iw::Address wa;
  *wa.mutable_workload() = workloadProto();
  wa.mutable_workload()->set_status(iw::HEALTHY);
  addResource(resp, "Kubernetes//Pod/default/web-0", wa, resp.type_url());
  iw::Address sa;
  *sa.mutable_service() = serviceProto();
  sa.mutable_service()->clear_waypoint();
  addResource(resp, "default/web.default.svc.cluster.local", sa, resp.type_url());
  iw::Address bad;
  *bad.mutable_workload() = workloadProto();
  bad.mutable_workload()->set_addresses(0, "xx");
  addResource(resp, "bad-workload", bad, resp.type_url());
  iw::Address empty;
  addResource(resp, "empty", empty, resp.type_url());
  auto* garbage = resp.add_resources();
  garbage->set_name("garbage");
  garbage->mutable_resource()->set_type_url(resp.type_url());
  garbage->mutable_resource()->set_value("\xff\xff\xff");
  addResource(resp, "wrong-type", authorizationProto(), std::string(kAuthorizationTypeUrl));
  resp.add_removed_resources("Kubernetes//Pod/default/old");

  auto c = convertDelta(resp);
  ASSERT_EQ(c.update.workloads.size(), 1u);
  ASSERT_EQ(c.update.services.size(), 1u);
  EXPECT_EQ(c.update.removed_addresses, std::vector<std::string>{"Kubernetes//Pod/default/old"});
  ASSERT_EQ(c.rejected.size(), 4u);
  EXPECT_NE(c.rejected[0].message().find("resource 'bad-workload': workload"), std::string::npos);
  EXPECT_NE(c.rejected[1].message().find("resource 'empty': Address has neither"),
            std::string::npos);
  EXPECT_NE(c.rejected[2].message().find("resource 'garbage': cannot parse"), std::string::npos);
  EXPECT_NE(c.rejected[3].message().find("resource 'wrong-type': body type"), std::string::npos);

  // Converted outside the lock, applied under it; the result routes.
  SnapshotStore store;
  EXPECT_TRUE(store.apply(c.update).empty());
  auto snap = store.current();
  Workload client = testing::pod("default", "client", {"10.244.1.10"}, "node-1");
  SeededRandom random(1);
  const Service* svc = snap->serviceByVip(NetworkAddress{"", testing::ip("10.96.0.10")});
  ASSERT_NE(svc, nullptr);
  auto ep = selectEndpoint(*snap, *svc, 80, client, random);
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->workload->uid, "Kubernetes//Pod/default/web-0");
  EXPECT_EQ(ep->target_port, 8080);

  dv3::DeltaDiscoveryResponse policies;
  policies.set_type_url(std::string(kAuthorizationTypeUrl));
  addResource(policies, "default/allow-client", authorizationProto(), policies.type_url());
  policies.add_removed_resources("default/gone");
  auto p = convertDelta(policies);
  EXPECT_TRUE(p.rejected.empty());
  ASSERT_EQ(p.update.policies.size(), 1u);
  EXPECT_EQ(p.update.removed_policies, std::vector<std::string>{"default/gone"});

  dv3::DeltaDiscoveryResponse other;
  other.set_type_url("type.googleapis.com/envoy.config.cluster.v3.Cluster");
  auto o = convertDelta(other);
  ASSERT_EQ(o.rejected.size(), 1u);
  EXPECT_NE(o.rejected[0].message().find("unsupported type"), std::string::npos);
}

}  // namespace
}  // namespace warren::mesh
