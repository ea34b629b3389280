// Builders for test meshes: short, readable workloads/services/policies.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "mesh/state/state_snapshot.h"

namespace warren::mesh::testing {

inline net::IpAddress ip(std::string_view s) {
  auto r = net::IpAddress::parse(s);
  EXPECT_TRUE(r.has_value()) << s;
  return r.value_or(net::IpAddress{});
}

inline net::SocketAddress sock(std::string_view s) {
  auto r = net::SocketAddress::parse(s);
  EXPECT_TRUE(r.has_value()) << s;
  return r.value_or(net::SocketAddress{});
}

inline net::IpCidr cidr(std::string_view s) {
  auto r = net::IpCidr::parse(s);
  EXPECT_TRUE(r.has_value()) << s;
  return r.value_or(net::IpCidr{});
}

inline Workload pod(std::string ns, std::string name, std::initializer_list<std::string_view> ips,
                    std::string node, std::string sa = "default",
                    TunnelProtocol proto = TunnelProtocol::kHbone) {
  Workload w;
  w.uid = "Kubernetes//Pod/" + ns + "/" + name;
  w.name = name;
  w.namespace_ = ns;
  for (auto s : ips) w.addresses.push_back(ip(s));
  w.node = std::move(node);
  w.service_account = std::move(sa);
  w.tunnel_protocol = proto;
  w.workload_name = name;
  w.canonical_name = name;
  return w;
}

inline std::string svcKey(std::string_view ns, std::string_view name) {
  return std::string(ns) + "/" + std::string(name) + "." + std::string(ns) +
         ".svc.cluster.local";
}

inline Service service(std::string ns, std::string name, std::initializer_list<std::string_view> vips,
                       std::initializer_list<ServicePort> ports) {
  Service s;
  s.name = name;
  s.namespace_ = ns;
  s.hostname = name + "." + ns + ".svc.cluster.local";
  for (auto v : vips) s.addresses.push_back(NetworkAddress{"", ip(v)});
  s.ports = ports;
  return s;
}

inline GatewayAddress waypointByHost(std::string ns, std::string name) {
  return GatewayAddress{NamespacedHostname{ns, name + "." + ns + ".svc.cluster.local"},
                        kHboneMtlsPort};
}

inline GatewayAddress waypointByIp(std::string_view addr) {
  return GatewayAddress{NetworkAddress{"", ip(addr)}, kHboneMtlsPort};
}

inline std::shared_ptr<const StateSnapshot> build(const StateUpdate& u) {
  auto r = StateSnapshot::empty()->apply(u);
  for (const auto& e : r.rejected) ADD_FAILURE() << "rejected: " << e.message();
  return r.snapshot;
}

}  // namespace warren::mesh::testing
