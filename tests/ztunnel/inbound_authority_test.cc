#include "ztunnel/routing/inbound_authority.h"

#include <gtest/gtest.h>

#include "mesh_fixture.h"

namespace warren::ztunnel {
namespace {

using namespace testing;

std::shared_ptr<const StateSnapshot> mesh() {
  StateUpdate u;
  auto web = pod("default", "web-0", {"10.244.1.11", "fd00::11"}, "node-1", "web");
  web.services[svcKey("default", "web")] = {{80, 8080}};
  web.services[svcKey("default", "named")] = {{80, 9000}};
  auto wp = pod("default", "waypoint-0", {"10.244.2.40"}, "node-2", "waypoint");
  wp.services[svcKey("default", "waypoint")] = {{15008, 15008}};
  auto db = pod("default", "db-0", {"10.244.2.42"}, "node-2", "db");
  db.waypoint = waypointByHost("default", "waypoint");
  auto sandwich = pod("default", "sandwich-0", {"10.244.2.50"}, "node-2", "sw");
  sandwich.application_tunnel = ApplicationTunnel{ApplicationTunnelProtocol::kProxy, 15088};
  u.workloads = {web, wp, db, sandwich};
  auto reviews = service("default", "reviews", {"10.96.0.13"}, {{9080, 9080}});
  reviews.waypoint = waypointByHost("default", "waypoint");
  auto other_ns_web = service("other", "web", {"10.96.1.10"}, {{80, 7070}});
  other_ns_web.hostname = "web.default.svc.cluster.local";  // same hostname, other namespace
  u.services = {service("default", "web", {"10.96.0.10"}, {{80, 8080}, {81, 0}}),
                service("default", "named", {"10.96.0.11"}, {{80, 0}}), reviews,
                service("default", "waypoint", {"10.96.0.50"}, {{15008, 15008}}), other_ns_web,
                service("default", "nomap", {"10.96.0.17"}, {{80, 0}})};
  return build(u);
}

struct Case {
  std::string name;
  std::string local;      // pod name
  std::string local_ip;   // the connection's local IP
  std::string authority;
  int status;             // 200 = accepted
  std::string want;       // upstream "ip:port" when accepted, rejection kind otherwise
  bool via_waypoint = false;
};

TEST(InboundAuthority, DecisionTable) {
  auto snap = mesh();
  const Case cases[] = {
      {"own IP and port", "web-0", "10.244.1.11", "10.244.1.11:8080", 200, "10.244.1.11:8080"},
      {"own IPv6", "web-0", "fd00::11", "[fd00::11]:8080", 200, "[fd00::11]:8080"},
      {"another pod's IP: IPMismatch", "web-0", "10.244.1.11", "10.244.2.42:5432", 400,
       "ip_mismatch"},
      {"own other address but not the one connected to", "web-0", "10.244.1.11",
       "[fd00::11]:8080", 400, "ip_mismatch"},
      {"a VIP: IPMismatch for a plain workload", "web-0", "10.244.1.11", "10.96.0.10:80", 400,
       "ip_mismatch"},
      {"waypoint of the target service (VIP)", "waypoint-0", "10.244.2.40", "10.96.0.13:9080",
       200, "10.244.2.40:9080", true},
      {"waypoint of the target workload", "waypoint-0", "10.244.2.40", "10.244.2.42:5432", 200,
       "10.244.2.40:5432", true},
      {"a waypoint, but not of this target", "waypoint-0", "10.244.2.40", "10.244.1.11:8080",
       400, "ip_mismatch"},
      {"sandwiched waypoint (application tunnel) accepts any target", "sandwich-0",
       "10.244.2.50", "10.96.0.10:80", 200, "10.244.2.50:80", true},
      {"illegal port 15008 (nested HBONE)", "web-0", "10.244.1.11", "10.244.1.11:15008", 400,
       "illegal_port"},
      {"illegal port 15001", "web-0", "10.244.1.11", "10.244.1.11:15001", 400, "illegal_port"},
      {"illegal port 15006", "web-0", "10.244.1.11", "10.244.1.11:15006", 400, "illegal_port"},
      {"no port", "web-0", "10.244.1.11", "10.244.1.11", 400, "malformed_authority"},
      {"port 0", "web-0", "10.244.1.11", "10.244.1.11:0", 400, "malformed_authority"},
      {"empty", "web-0", "10.244.1.11", "", 400, "malformed_authority"},
      {"unbracketed v6", "web-0", "fd00::11", "fd00::11:8080", 400, "malformed_authority"},
      {"hostname, local namespace preferred", "web-0", "10.244.1.11",
       "web.default.svc.cluster.local:80", 200, "10.244.1.11:8080"},
      {"hostname with a named port resolved by the local workload", "web-0", "10.244.1.11",
       "named.default.svc.cluster.local:80", 200, "10.244.1.11:9000"},
      {"hostname, port with no target anywhere: 503", "web-0", "10.244.1.11",
       "web.default.svc.cluster.local:81", 503, "no_target_port"},
      {"hostname, unknown service port: 503", "web-0", "10.244.1.11",
       "web.default.svc.cluster.local:82", 503, "no_target_port"},
      {"unknown hostname: 503", "web-0", "10.244.1.11", "nope.default.svc.cluster.local:80", 503,
       "unknown_hostname"},
      {"hostname, bad port", "web-0", "10.244.1.11", "web.default.svc.cluster.local:http", 400,
       "malformed_authority"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Workload* local = snap->workloadByUid("Kubernetes//Pod/default/" + c.local);
    ASSERT_NE(local, nullptr);
    auto r = checkInboundAuthority(*snap, *local, ip(c.local_ip), c.authority);
    if (c.status == 200) {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(r->upstream.toString(), c.want);
      EXPECT_EQ(r->via_waypoint, c.via_waypoint);
    } else {
      ASSERT_FALSE(r) << r->upstream.toString();
      EXPECT_EQ(r.error().http_status, c.status);
      EXPECT_EQ(toString(r.error().kind), c.want) << r.error().detail;
      EXPECT_FALSE(r.error().detail.empty());
    }
  }
}

TEST(InboundAuthority, HostnameAuthorityNamesTheService) {
  auto snap = mesh();
  const Workload* web = snap->workloadByUid("Kubernetes//Pod/default/web-0");
  auto r = checkInboundAuthority(*snap, *web, ip("10.244.1.11"),
                                 "web.default.svc.cluster.local:80");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->service, svcKey("default", "web"));
}

}  // namespace
}  // namespace warren::ztunnel
