// fuzz-link: warren_ztunnel_core
//
// Bytes from istiod / the agent's xDS server into ztunnel's state, then into the decisions
// made from it: convertDelta (state/xds_convert.h) -> SnapshotStore::apply -> buildRequest
// (routing/outbound_router.h) and evaluateRbac (rbac/rbac_evaluator.h) for every pair of
// known workloads / service VIPs, and the /config_dump rendering.
//
// Input: one flag byte, then the body.
//   flags & 3 == 1: the body is an istio.workload.Address, pushed as the resource
//                   "fuzz/resource" of an Address push;
//   flags & 3 == 2: the body is an istio.security.Authorization, pushed likewise;
//   otherwise:      the body is a whole envoy DeltaDiscoveryResponse.
//   flags & 4:      afterwards every resource the push named is removed, and the decisions
//                   run again (dangling waypoints, services without endpoints...).
// The push lands on top of a small valid mesh (two nodes' workloads, a service with a VIP, a
// waypoint, policies of every scope) so fuzzed resources meet real ones.
//
// Invariants: no crash or sanitizer report; every rejection names its resource ("resource
// '<name>': ...") or the unsupported push type; every resource is either converted or
// rejected; the store accepts everything convertDelta accepted (conversion validates at least
// what apply does); an HBONE route has an authority, a port and expected identities; an RBAC
// decision's reason agrees with its verdict.
//
//   xds_convert_fuzz --make-seeds DIR   writes the base pushes, single resources and
//                                       malformed variants to DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/seed_file.h"
#include "ztunnel/rbac/rbac_evaluator.h"
#include "ztunnel/routing/outbound_router.h"
#include "ztunnel/state/snapshot_store.h"
#include "ztunnel/state/xds_convert.h"

namespace {

using namespace warren::ztunnel;
namespace iw = istio::workload;
namespace is = istio::security;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

constexpr uint8_t kModeMask = 0x03;
constexpr uint8_t kWrapAddress = 0x01;
constexpr uint8_t kWrapAuthorization = 0x02;
constexpr uint8_t kRemoveAfter = 0x04;
constexpr std::string_view kWrappedName = "fuzz/resource";

// Bounds on the decisions one input runs, so a push with thousands of addresses stays fast.
constexpr size_t kMaxSources = 8;
constexpr size_t kMaxDestinations = 24;
constexpr size_t kMaxPorts = 6;

// XDS_CONVERT_FUZZ_VERBOSE=1: print what each input converted to (seed review).
bool verbose() {
  static const bool v = std::getenv("XDS_CONVERT_FUZZ_VERBOSE") != nullptr;
  return v;
}

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "xds_convert_fuzz: invariant broken: %s\n", what.c_str());
    std::abort();
  }
}

std::string ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                     static_cast<char>(d)};
}

std::string ip6Last(uint8_t last) {
  std::string s(16, '\0');
  s[0] = static_cast<char>(0xfd);
  s[15] = static_cast<char>(last);
  return s;
}

// --- the base mesh, as istiod would push it -------------------------------------------------

iw::Workload workload(const std::string& uid, const std::string& sa, const std::string& ip,
                      iw::TunnelProtocol tunnel) {
  iw::Workload w;
  w.set_uid(uid);
  w.set_name(sa + "-pod");
  w.set_namespace_("shop");
  w.add_addresses(ip);
  w.set_tunnel_protocol(tunnel);
  w.set_trust_domain("cluster.local");
  w.set_service_account(sa);
  w.set_node("node-1");
  w.set_workload_type(iw::POD);
  w.set_status(iw::HEALTHY);
  return w;
}

std::vector<iw::Address> baseAddresses() {
  std::vector<iw::Address> out;
  auto add = [&](const iw::Workload& w) { *out.emplace_back().mutable_workload() = w; };
  add(workload("Kubernetes//Pod/shop/client", "client", ip4(10, 244, 1, 5), iw::HBONE));

  iw::Workload web1 = workload("Kubernetes//Pod/shop/web-1", "web", ip4(10, 244, 1, 6), iw::HBONE);
  iw::PortList ports;
  auto* p = ports.add_ports();
  p->set_service_port(80);
  p->set_target_port(8080);
  (*web1.mutable_services())["shop/web.shop.svc.cluster.local"] = ports;
  web1.add_authorization_policies("shop/allow-client");
  web1.mutable_locality()->set_region("eu");
  add(web1);

  iw::Workload web2 = workload("Kubernetes//Pod/shop/web-2", "web", ip4(10, 244, 2, 7), iw::NONE);
  (*web2.mutable_services())["shop/web.shop.svc.cluster.local"] = ports;
  web2.set_node("node-2");
  add(web2);

  iw::Workload wp =
      workload("Kubernetes//Pod/shop/waypoint", "waypoint", ip4(10, 244, 1, 9), iw::HBONE);
  iw::PortList wp_ports;
  auto* wpp = wp_ports.add_ports();
  wpp->set_service_port(15008);
  wpp->set_target_port(15008);
  (*wp.mutable_services())["shop/waypoint.shop.svc.cluster.local"] = wp_ports;
  add(wp);

  iw::Workload db = workload("Kubernetes//Pod/shop/db", "db", ip6Last(7), iw::HBONE);
  db.add_addresses(ip4(10, 244, 2, 8));
  db.mutable_waypoint()->mutable_hostname()->set_namespace_("shop");
  db.mutable_waypoint()->mutable_hostname()->set_hostname("waypoint.shop.svc.cluster.local");
  add(db);

  iw::Service web;
  web.set_name("web");
  web.set_namespace_("shop");
  web.set_hostname("web.shop.svc.cluster.local");
  auto* vip = web.add_addresses();
  vip->set_address(ip4(10, 96, 0, 10));
  auto* sp = web.add_ports();
  sp->set_service_port(80);
  sp->set_target_port(8080);
  sp->set_app_protocol(iw::HTTP11);
  web.add_subject_alt_names("spiffe://cluster.local/ns/shop/sa/web");
  web.mutable_load_balancing()->add_routing_preference(iw::LoadBalancing::REGION);
  web.mutable_load_balancing()->set_mode(iw::LoadBalancing::FAILOVER);
  *out.emplace_back().mutable_service() = web;

  iw::Service waypoint;
  waypoint.set_name("waypoint");
  waypoint.set_namespace_("shop");
  waypoint.set_hostname("waypoint.shop.svc.cluster.local");
  waypoint.add_addresses()->set_address(ip4(10, 96, 0, 20));
  auto* wsp = waypoint.add_ports();
  wsp->set_service_port(15008);
  wsp->set_target_port(15008);
  *out.emplace_back().mutable_service() = waypoint;

  iw::Service db_svc;
  db_svc.set_name("db");
  db_svc.set_namespace_("shop");
  db_svc.set_hostname("db.shop.svc.cluster.local");
  db_svc.add_addresses()->set_address(ip4(10, 96, 0, 30));
  auto* dsp = db_svc.add_ports();
  dsp->set_service_port(5432);
  db_svc.mutable_waypoint()->mutable_address()->set_address(ip4(10, 96, 0, 20));
  *out.emplace_back().mutable_service() = db_svc;
  return out;
}

std::vector<is::Authorization> basePolicies() {
  std::vector<is::Authorization> out;
  is::Authorization allow;
  allow.set_name("allow-client");
  allow.set_namespace_("shop");
  allow.set_scope(is::WORKLOAD_SELECTOR);
  allow.set_action(is::ALLOW);
  auto* m = allow.add_groups()->add_rules()->add_matches();
  m->add_principals()->set_exact("cluster.local/ns/shop/sa/client");
  m->add_destination_ports(8080);
  out.push_back(allow);

  is::Authorization deny;
  deny.set_name("deny-outside");
  deny.set_namespace_("shop");
  deny.set_scope(is::NAMESPACE);
  deny.set_action(is::DENY);
  auto* dm = deny.add_groups()->add_rules()->add_matches();
  auto* cidr = dm->add_source_ips();
  cidr->set_address(ip4(192, 168, 0, 0));
  cidr->set_length(16);
  dm->add_not_namespaces()->set_prefix("shop");
  out.push_back(deny);

  is::Authorization strict;
  strict.set_name("strict");
  strict.set_namespace_("istio-system");
  strict.set_scope(is::GLOBAL);
  strict.set_action(is::DENY);
  strict.set_dry_run(true);
  strict.add_groups()->add_rules()->add_matches()->add_not_principals()->mutable_presence();
  out.push_back(strict);
  return out;
}

std::string resourceName(const iw::Address& a) {
  if (a.has_workload()) return a.workload().uid();
  return a.service().namespace_() + "/" + a.service().hostname();
}

DeltaDiscoveryResponse addressPush(const std::vector<iw::Address>& addresses) {
  DeltaDiscoveryResponse r;
  r.set_type_url(std::string(kAddressTypeUrl));
  r.set_system_version_info("base");
  r.set_nonce("1");
  for (const auto& a : addresses) {
    auto* res = r.add_resources();
    res->set_name(resourceName(a));
    res->set_version("1");
    res->mutable_resource()->set_type_url(std::string(kAddressTypeUrl));
    res->mutable_resource()->set_value(a.SerializeAsString());
  }
  return r;
}

DeltaDiscoveryResponse policyPush(const std::vector<is::Authorization>& policies) {
  DeltaDiscoveryResponse r;
  r.set_type_url(std::string(kAuthorizationTypeUrl));
  r.set_nonce("2");
  for (const auto& p : policies) {
    auto* res = r.add_resources();
    res->set_name(p.namespace_() + "/" + p.name());
    res->set_version("1");
    res->mutable_resource()->set_type_url(std::string(kAuthorizationTypeUrl));
    res->mutable_resource()->set_value(p.SerializeAsString());
  }
  return r;
}

// The base pushes, converted once; the fixture must be valid.
struct Base {
  StateUpdate addresses;
  StateUpdate policies;
  Base() {
    auto a = convertDelta(addressPush(baseAddresses()));
    auto p = convertDelta(policyPush(basePolicies()));
    check(a.rejected.empty() && p.rejected.empty(), "the base mesh does not convert");
    addresses = std::move(a.update);
    policies = std::move(p.update);
  }
};

const Base& base() {
  static const Base b;
  return b;
}

// --- invariants ------------------------------------------------------------------------------

void checkConversion(const DeltaDiscoveryResponse& push, const ConvertedDelta& c) {
  const std::string& type = push.type_url();
  if (type != kAddressTypeUrl && type != kAuthorizationTypeUrl) {
    check(c.rejected.size() == 1 &&
              c.rejected[0].message().find("unsupported type") != std::string::npos,
          "a push of an unknown type is not rejected as such");
    return;
  }
  size_t converted =
      c.update.workloads.size() + c.update.services.size() + c.update.policies.size();
  check(converted + c.rejected.size() == static_cast<size_t>(push.resources_size()),
        "a resource was neither converted nor rejected");
  std::set<std::string> names;
  for (const auto& r : push.resources()) names.insert(r.name());
  for (const auto& e : c.rejected) {
    const std::string msg = e.message();
    bool named = false;
    if (msg.starts_with("resource '")) {
      // The name may itself contain "'": accept any resource whose prefix matches.
      for (const auto& n : names) {
        if (msg.starts_with("resource '" + n + "': ")) {
          named = true;
          break;
        }
      }
    }
    check(named, "rejection does not name its resource: " + msg);
  }
  for (const auto& [name, version] : c.accepted_versions) {
    check(names.count(name) == 1, "accepted version for an unknown resource " + name);
  }
}

struct Tally {
  size_t hbone = 0, passthrough = 0, route_errors = 0, allowed = 0, denied = 0;
};
Tally g_tally;

void checkRoute(const RouteDecision& d) {
  ++(d.index() == 0 ? g_tally.hbone : d.index() == 1 ? g_tally.passthrough : g_tally.route_errors);
  if (const auto* h = std::get_if<HboneRoute>(&d)) {
    check(!h->authority.empty(), "HBONE route without authority");
    check(h->connect_to.port != 0, "HBONE route to port 0");
    check(!h->expected_identities.empty(), "HBONE route without expected identities");
  }
  (void)toJson(d).dump();
}

void checkRbac(const RbacDecision& d) {
  using R = RbacDecision::Reason;
  bool allowed_reason = d.reason == R::kNoAllowPolicies || d.reason == R::kAllowMatched;
  ++(d.allowed ? g_tally.allowed : g_tally.denied);
  check(d.allowed == allowed_reason, "RBAC verdict disagrees with its reason");
  if (d.reason == R::kAllowMatched || d.reason == R::kDenyMatched) {
    check(d.policy != nullptr, "RBAC matched without a policy");
  }
  (void)d.toJson().dump();
}

// Every decision the data path could make from this snapshot, bounded.
void decide(const StateSnapshot& snap, const std::vector<std::string>& workload_uids,
            const std::vector<std::pair<std::string, std::string>>& services, uint64_t seed) {
  std::vector<const Workload*> workloads;
  for (const auto& uid : workload_uids) {
    if (const Workload* w = snap.workloadByUid(uid)) workloads.push_back(w);
  }
  std::vector<IpAddress> dest_ips;
  std::vector<uint16_t> ports = {8080, 15008, 1};
  for (const auto& [ns, host] : services) {
    const Service* s = snap.serviceByHostname(ns, host);
    if (!s) continue;
    for (const auto& a : s->addresses) {
      if (dest_ips.size() < kMaxDestinations) dest_ips.push_back(a.address);
    }
    for (const auto& p : s->ports) {
      if (ports.size() < kMaxPorts) ports.push_back(p.service_port);
    }
  }
  for (const Workload* w : workloads) {
    for (const auto& ip : w->addresses) {
      if (dest_ips.size() < kMaxDestinations) dest_ips.push_back(ip);
    }
  }
  SeededRandom random(seed);
  size_t sources = 0;
  for (const Workload* src : workloads) {
    if (++sources > kMaxSources) break;
    for (const auto& ip : dest_ips) {
      for (uint16_t port : ports) checkRoute(buildRequest(snap, *src, {ip, port}, random));
    }
  }
  for (const Workload* dst : workloads) {
    WorkloadPolicies policies = snap.policiesFor(*dst);
    IpAddress dst_ip = dst->addresses.empty() ? IpAddress() : dst->addresses.front();
    sources = 0;
    for (const Workload* src : workloads) {
      if (++sources > kMaxSources) break;
      ConnectionContext conn;
      conn.source_identity = src->identity();
      conn.source_ip = src->addresses.empty() ? IpAddress() : src->addresses.front();
      conn.destination_ip = dst_ip;
      conn.destination_port = 8080;
      checkRbac(evaluateRbac(policies, conn));
      conn.source_identity.reset();  // plaintext, as on 15006
      conn.destination_port = 80;
      checkRbac(evaluateRbac(policies, conn));
    }
  }
  (void)snap.toJson().dump();
  if (verbose()) {
    std::fprintf(
        stderr, "  routes: %zu HBONE, %zu passthrough, %zu errors; RBAC: %zu allowed, %zu denied\n",
        g_tally.hbone, g_tally.passthrough, g_tally.route_errors, g_tally.allowed, g_tally.denied);
    g_tally = {};
  }
}

void collectNames(const StateUpdate& u, std::vector<std::string>& uids,
                  std::vector<std::pair<std::string, std::string>>& services) {
  for (const auto& w : u.workloads) uids.push_back(w.uid);
  for (const auto& s : u.services) services.emplace_back(s.namespace_, s.hostname);
}

DeltaDiscoveryResponse wrap(std::string_view type_url, std::string_view body) {
  DeltaDiscoveryResponse r;
  r.set_type_url(std::string(type_url));
  auto* res = r.add_resources();
  res->set_name(std::string(kWrappedName));
  res->set_version("fuzz");
  res->mutable_resource()->set_type_url(std::string(type_url));
  res->mutable_resource()->set_value(std::string(body));
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Base& b = base();
  uint8_t flags = data[0];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  DeltaDiscoveryResponse push;
  switch (flags & kModeMask) {
    case kWrapAddress:
      push = wrap(kAddressTypeUrl, body);
      break;
    case kWrapAuthorization:
      push = wrap(kAuthorizationTypeUrl, body);
      break;
    default:
      if (!push.ParseFromArray(body.data(), static_cast<int>(body.size()))) return 0;
  }
  ConvertedDelta converted = convertDelta(push);
  checkConversion(push, converted);
  if (verbose()) {
    std::fprintf(stderr,
                 "xds_convert_fuzz: %zu workloads, %zu services, %zu policies, %zu rejected\n",
                 converted.update.workloads.size(), converted.update.services.size(),
                 converted.update.policies.size(), converted.rejected.size());
    for (const auto& e : converted.rejected) std::fprintf(stderr, "  %s\n", e.message().c_str());
  }

  SnapshotStore store;
  check(store.apply(b.addresses).empty() && store.apply(b.policies).empty(), "base apply");
  auto rejected = store.apply(converted.update);
  check(rejected.empty(), "the store rejected what convertDelta accepted: " +
                              (rejected.empty() ? std::string() : rejected[0].message()));

  std::vector<std::string> uids;
  std::vector<std::pair<std::string, std::string>> services;
  collectNames(b.addresses, uids, services);
  collectNames(converted.update, uids, services);
  uint64_t seed = size * 0x9e3779b97f4a7c15ULL + flags;
  decide(*store.current(), uids, services, seed);

  if (flags & kRemoveAfter) {
    StateUpdate removal;
    for (const auto& r : push.resources()) {
      (push.type_url() == kAuthorizationTypeUrl ? removal.removed_policies
                                                : removal.removed_addresses)
          .push_back(r.name());
    }
    check(store.apply(removal).empty(), "removal rejected");
    decide(*store.current(), uids, services, seed + 1);
  }
  return 0;
}

extern "C" int WarrenFuzzMakeSeeds(const char* dir_c) {
  using warren::fuzz::writeSeed;
  const std::string dir = dir_c;
  bool ok = true;
  auto seed = [&](const std::string& name, uint8_t flags, const std::string& body) {
    ok = writeSeed(dir, name, flags, body) && ok;
  };
  auto addresses = baseAddresses();
  auto policies = basePolicies();
  seed("push_addresses", 0, addressPush(addresses).SerializeAsString());
  seed("push_policies", 0, policyPush(policies).SerializeAsString());
  seed("push_addresses_then_remove", kRemoveAfter, addressPush(addresses).SerializeAsString());
  seed("push_policies_then_remove", kRemoveAfter, policyPush(policies).SerializeAsString());
  for (size_t i = 0; i < addresses.size(); ++i) {
    seed("address_" + std::to_string(i), kWrapAddress, addresses[i].SerializeAsString());
  }
  for (size_t i = 0; i < policies.size(); ++i) {
    seed("policy_" + std::to_string(i), kWrapAuthorization, policies[i].SerializeAsString());
  }
  // A waypoint replaced by a workload that claims the waypoint's own VIP as its address.
  seed("remove_waypoint", kRemoveAfter, [&] {
    DeltaDiscoveryResponse r = addressPush({addresses[3]});
    r.add_removed_resources("shop/waypoint.shop.svc.cluster.local");
    return r.SerializeAsString();
  }());

  // Malformed: each rejected with an error naming the resource.
  auto bad_workload = [&](const std::string& name, auto mutate) {
    iw::Address a = addresses[1];
    mutate(*a.mutable_workload());
    seed(name, kWrapAddress, a.SerializeAsString());
  };
  bad_workload("bad_ip_length",
               [](iw::Workload& w) { w.set_addresses(0, std::string("\x0a\x00\x00", 3)); });
  bad_workload("bad_port", [](iw::Workload& w) {
    (*w.mutable_services())["shop/web.shop.svc.cluster.local"].mutable_ports(0)->set_target_port(
        70000);
  });
  bad_workload("bad_enum",
               [](iw::Workload& w) { w.set_tunnel_protocol(static_cast<iw::TunnelProtocol>(99)); });
  bad_workload("bad_service_key", [](iw::Workload& w) { (*w.mutable_services())["noslash"]; });
  bad_workload("empty_uid", [](iw::Workload& w) { w.clear_uid(); });
  bad_workload("waypoint_without_destination",
               [](iw::Workload& w) { w.mutable_waypoint()->set_hbone_mtls_port(15008); });
  {
    is::Authorization p = policies[0];
    p.mutable_groups(0)->mutable_rules(0)->mutable_matches(0)->add_principals();  // no type
    seed("bad_string_match", kWrapAuthorization, p.SerializeAsString());
    is::Authorization q = policies[1];
    q.mutable_groups(0)->mutable_rules(0)->mutable_matches(0)->mutable_source_ips(0)->set_length(
        33);
    seed("bad_prefix_length", kWrapAuthorization, q.SerializeAsString());
  }
  {
    DeltaDiscoveryResponse r = addressPush({addresses[0]});
    r.set_type_url("type.googleapis.com/envoy.config.cluster.v3.Cluster");
    seed("unsupported_type", 0, r.SerializeAsString());
    DeltaDiscoveryResponse m = addressPush({addresses[0]});
    m.mutable_resources(0)->mutable_resource()->set_type_url(std::string(kAuthorizationTypeUrl));
    seed("body_type_mismatch", 0, m.SerializeAsString());
  }
  seed("address_garbage", kWrapAddress, "\x0a\xff\xff\xff\xff\x0f");
  seed("address_empty", kWrapAddress, "");
  seed("push_garbage", 0, "\x12\x80");
  return ok ? 0 : 1;
}
