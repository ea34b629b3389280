#include "ztunnel/state/xds_convert.h"

#include <fmt/format.h>

namespace warren::ztunnel {
namespace {

namespace wl = istio::workload;
namespace sec = istio::security;

Result<uint16_t> port(uint32_t value, std::string_view field) {
  if (value > 65535) return fail(Error::invalid(fmt::format("{} {} is not a port", field, value)));
  return static_cast<uint16_t>(value);
}

Result<NetworkAddress> networkAddress(const wl::NetworkAddress& a, std::string_view field) {
  auto ip = IpAddress::fromBytes(a.address());
  if (!ip) return fail(ip.error().wrap(std::string(field)));
  return NetworkAddress{a.network(), *ip};
}

Result<std::optional<GatewayAddress>> gateway(bool present, const wl::GatewayAddress& g,
                                              std::string_view field) {
  if (!present) return std::optional<GatewayAddress>{};
  GatewayAddress out;
  switch (g.destination_case()) {
    case wl::GatewayAddress::kHostname:
      out.destination = NamespacedHostname{g.hostname().namespace_(), g.hostname().hostname()};
      break;
    case wl::GatewayAddress::kAddress: {
      auto a = networkAddress(g.address(), fmt::format("{}.address", field));
      if (!a) return fail(a.error());
      out.destination = *a;
      break;
    }
    default:
      return fail(Error::invalid(fmt::format("{}: neither hostname nor address set", field)));
  }
  if (g.hbone_mtls_port() != 0) {
    auto p = port(g.hbone_mtls_port(), fmt::format("{}.hbone_mtls_port", field));
    if (!p) return fail(p.error());
    out.hbone_mtls_port = *p;
  }
  return std::optional<GatewayAddress>(std::move(out));
}

Result<AppProtocol> appProtocol(int v) {
  switch (v) {
    case wl::UNKNOWN:
      return AppProtocol::kUnknown;
    case wl::HTTP11:
      return AppProtocol::kHttp11;
    case wl::HTTP2:
      return AppProtocol::kHttp2;
    case wl::GRPC:
      return AppProtocol::kGrpc;
    case wl::TCP:
      return AppProtocol::kTcp;
    case wl::TLS:
      return AppProtocol::kTls;
    default:
      return fail(Error::invalid(fmt::format("app_protocol {} unknown", v)));
  }
}

Result<StringMatch> stringMatch(const sec::StringMatch& m) {
  switch (m.match_type_case()) {
    case sec::StringMatch::kExact:
      return StringMatch::exact(m.exact());
    case sec::StringMatch::kPrefix:
      return StringMatch::prefix(m.prefix());
    case sec::StringMatch::kSuffix:
      return StringMatch::suffix(m.suffix());
    case sec::StringMatch::kPresence:
      return StringMatch::presence();
    default:
      return fail(Error::invalid("string match with no match_type"));
  }
}

template <class Repeated>
Result<std::vector<StringMatch>> stringMatches(const Repeated& in, std::string_view field) {
  std::vector<StringMatch> out;
  for (const auto& m : in) {
    auto s = stringMatch(m);
    if (!s) return fail(s.error().wrap(std::string(field)));
    out.push_back(std::move(*s));
  }
  return out;
}

template <class Repeated>
Result<std::vector<IpCidr>> cidrs(const Repeated& in, std::string_view field) {
  std::vector<IpCidr> out;
  for (const auto& a : in) {
    auto ip = IpAddress::fromBytes(a.address());
    if (!ip) return fail(ip.error().wrap(std::string(field)));
    auto c = IpCidr::make(*ip, a.length());
    if (!c) return fail(c.error().wrap(std::string(field)));
    out.push_back(*c);
  }
  return out;
}

template <class Repeated>
Result<std::vector<uint16_t>> ports(const Repeated& in, std::string_view field) {
  std::vector<uint16_t> out;
  for (uint32_t v : in) {
    auto p = port(v, field);
    if (!p) return fail(p.error());
    out.push_back(*p);
  }
  return out;
}

template <class Repeated>
std::vector<ServiceAccountMatch> serviceAccounts(const Repeated& in) {
  std::vector<ServiceAccountMatch> out;
  for (const auto& sa : in) out.push_back({sa.namespace_(), sa.serviceaccount()});
  return out;
}

Result<AuthorizationMatch> match(const sec::Match& m) {
  AuthorizationMatch out;
#define WARREN_CONVERT(dst, expr)              \
  {                                            \
    auto r = (expr);                           \
    if (!r) return fail(std::move(r).error()); \
    out.dst = std::move(*r);                   \
  }
  WARREN_CONVERT(namespaces, stringMatches(m.namespaces(), "namespaces"));
  WARREN_CONVERT(not_namespaces, stringMatches(m.not_namespaces(), "not_namespaces"));
  WARREN_CONVERT(principals, stringMatches(m.principals(), "principals"));
  WARREN_CONVERT(not_principals, stringMatches(m.not_principals(), "not_principals"));
  WARREN_CONVERT(source_ips, cidrs(m.source_ips(), "source_ips"));
  WARREN_CONVERT(not_source_ips, cidrs(m.not_source_ips(), "not_source_ips"));
  WARREN_CONVERT(destination_ips, cidrs(m.destination_ips(), "destination_ips"));
  WARREN_CONVERT(not_destination_ips, cidrs(m.not_destination_ips(), "not_destination_ips"));
  WARREN_CONVERT(destination_ports, ports(m.destination_ports(), "destination_ports"));
  WARREN_CONVERT(not_destination_ports, ports(m.not_destination_ports(), "not_destination_ports"));
#undef WARREN_CONVERT
  out.service_accounts = serviceAccounts(m.service_accounts());
  out.not_service_accounts = serviceAccounts(m.not_service_accounts());
  return out;
}

}  // namespace

Result<Workload> convertWorkload(const wl::Workload& w) {
  auto bad = [&](const Error& e) {
    return fail(e.wrap(fmt::format("workload {}", w.uid().empty() ? w.name() : w.uid())));
  };
  if (w.uid().empty()) return bad(Error::invalid("uid is empty"));
  Workload out;
  out.uid = w.uid();
  out.name = w.name();
  out.namespace_ = w.namespace_();
  for (int i = 0; i < w.addresses_size(); ++i) {
    auto ip = IpAddress::fromBytes(w.addresses(i));
    if (!ip) return bad(ip.error().wrap(fmt::format("addresses[{}]", i)));
    out.addresses.push_back(*ip);
  }
  out.hostname = w.hostname();
  out.network = w.network();
  switch (w.tunnel_protocol()) {
    case wl::NONE:
      out.tunnel_protocol = TunnelProtocol::kNone;
      break;
    case wl::HBONE:
      out.tunnel_protocol = TunnelProtocol::kHbone;
      break;
    case wl::LEGACY_ISTIO_MTLS:
      out.tunnel_protocol = TunnelProtocol::kLegacyIstioMtls;
      break;
    default:
      return bad(
          Error::invalid(fmt::format("tunnel_protocol {} unknown", int(w.tunnel_protocol()))));
  }
  out.trust_domain = w.trust_domain();
  out.service_account = w.service_account();
  auto wp = gateway(w.has_waypoint(), w.waypoint(), "waypoint");
  if (!wp) return bad(wp.error());
  out.waypoint = std::move(*wp);
  auto ng = gateway(w.has_network_gateway(), w.network_gateway(), "network_gateway");
  if (!ng) return bad(ng.error());
  out.network_gateway = std::move(*ng);
  out.node = w.node();
  out.canonical_name = w.canonical_name();
  out.canonical_revision = w.canonical_revision();
  switch (w.workload_type()) {
    case wl::DEPLOYMENT:
      out.workload_type = WorkloadType::kDeployment;
      break;
    case wl::CRONJOB:
      out.workload_type = WorkloadType::kCronJob;
      break;
    case wl::POD:
      out.workload_type = WorkloadType::kPod;
      break;
    case wl::JOB:
      out.workload_type = WorkloadType::kJob;
      break;
    default:
      return bad(Error::invalid(fmt::format("workload_type {} unknown", int(w.workload_type()))));
  }
  out.workload_name = w.workload_name();
  if (w.has_application_tunnel()) {
    ApplicationTunnel t;
    t.protocol = w.application_tunnel().protocol() == wl::ApplicationTunnel::PROXY
                     ? ApplicationTunnelProtocol::kProxy
                     : ApplicationTunnelProtocol::kNone;
    auto p = port(w.application_tunnel().port(), "application_tunnel.port");
    if (!p) return bad(p.error());
    t.port = *p;
    out.application_tunnel = t;
  }
  for (const auto& [key, list] : w.services()) {
    PortMap map;
    for (const auto& p : list.ports()) {
      auto sp = port(p.service_port(), fmt::format("services[{}].service_port", key));
      if (!sp) return bad(sp.error());
      auto tp = port(p.target_port(), fmt::format("services[{}].target_port", key));
      if (!tp) return bad(tp.error());
      map[*sp] = *tp;
    }
    out.services.emplace(key, std::move(map));
  }
  out.authorization_policies.assign(w.authorization_policies().begin(),
                                    w.authorization_policies().end());
  out.status = w.status() == wl::UNHEALTHY ? WorkloadStatus::kUnhealthy : WorkloadStatus::kHealthy;
  out.cluster_id = w.cluster_id();
  out.locality = {w.locality().region(), w.locality().zone(), w.locality().subzone()};
  out.network_mode =
      w.network_mode() == wl::HOST_NETWORK ? NetworkMode::kHostNetwork : NetworkMode::kStandard;
  if (w.has_capacity()) out.capacity = w.capacity().value();
  return out;
}

Result<Service> convertService(const wl::Service& s) {
  auto bad = [&](const Error& e) {
    return fail(e.wrap(fmt::format("service {}/{}", s.namespace_(), s.hostname())));
  };
  if (s.hostname().empty()) return bad(Error::invalid("hostname is empty"));
  Service out;
  out.name = s.name();
  out.namespace_ = s.namespace_();
  out.hostname = s.hostname();
  for (int i = 0; i < s.addresses_size(); ++i) {
    auto a = networkAddress(s.addresses(i), fmt::format("addresses[{}]", i));
    if (!a) return bad(a.error());
    out.addresses.push_back(std::move(*a));
  }
  for (int i = 0; i < s.ports_size(); ++i) {
    const auto& p = s.ports(i);
    auto sp = port(p.service_port(), fmt::format("ports[{}].service_port", i));
    if (!sp) return bad(sp.error());
    auto tp = port(p.target_port(), fmt::format("ports[{}].target_port", i));
    if (!tp) return bad(tp.error());
    auto ap = appProtocol(p.app_protocol());
    if (!ap) return bad(ap.error().wrap(fmt::format("ports[{}]", i)));
    out.ports.push_back({*sp, *tp, *ap});
  }
  out.subject_alt_names.assign(s.subject_alt_names().begin(), s.subject_alt_names().end());
  auto wp = gateway(s.has_waypoint(), s.waypoint(), "waypoint");
  if (!wp) return bad(wp.error());
  out.waypoint = std::move(*wp);
  if (s.has_load_balancing()) {
    LoadBalancing lb;
    for (int scope : s.load_balancing().routing_preference()) {
      switch (scope) {
        case wl::LoadBalancing::REGION:
          lb.routing_preference.push_back(LoadBalancingScope::kRegion);
          break;
        case wl::LoadBalancing::ZONE:
          lb.routing_preference.push_back(LoadBalancingScope::kZone);
          break;
        case wl::LoadBalancing::SUBZONE:
          lb.routing_preference.push_back(LoadBalancingScope::kSubzone);
          break;
        case wl::LoadBalancing::NODE:
          lb.routing_preference.push_back(LoadBalancingScope::kNode);
          break;
        case wl::LoadBalancing::CLUSTER:
          lb.routing_preference.push_back(LoadBalancingScope::kCluster);
          break;
        case wl::LoadBalancing::NETWORK:
          lb.routing_preference.push_back(LoadBalancingScope::kNetwork);
          break;
        default:
          return bad(
              Error::invalid(fmt::format("load_balancing.routing_preference {} unknown", scope)));
      }
    }
    switch (s.load_balancing().mode()) {
      case wl::LoadBalancing::STRICT:
        lb.mode = LoadBalancingMode::kStrict;
        break;
      case wl::LoadBalancing::FAILOVER:
        lb.mode = LoadBalancingMode::kFailover;
        break;
      case wl::LoadBalancing::PASSTHROUGH:
        lb.mode = LoadBalancingMode::kPassthrough;
        break;
      default:
        lb.mode = LoadBalancingMode::kUnspecified;
        break;
    }
    lb.health_policy = s.load_balancing().health_policy() == wl::LoadBalancing::ALLOW_ALL
                           ? HealthPolicy::kAllowAll
                           : HealthPolicy::kOnlyHealthy;
    out.load_balancing = std::move(lb);
  }
  switch (s.ip_families()) {
    case wl::IPV4_ONLY:
      out.ip_families = IpFamilies::kIpv4Only;
      break;
    case wl::IPV6_ONLY:
      out.ip_families = IpFamilies::kIpv6Only;
      break;
    case wl::DUAL:
      out.ip_families = IpFamilies::kDual;
      break;
    default:
      out.ip_families = IpFamilies::kAutomatic;
      break;
  }
  return out;
}

Result<std::variant<Workload, Service>> convertAddress(const wl::Address& a) {
  switch (a.type_case()) {
    case wl::Address::kWorkload: {
      auto w = convertWorkload(a.workload());
      if (!w) return fail(w.error());
      return std::variant<Workload, Service>(std::move(*w));
    }
    case wl::Address::kService: {
      auto s = convertService(a.service());
      if (!s) return fail(s.error());
      return std::variant<Workload, Service>(std::move(*s));
    }
    default:
      return fail(Error::invalid("Address with neither workload nor service"));
  }
}

Result<Authorization> convertAuthorization(const sec::Authorization& a) {
  auto bad = [&](const Error& e) {
    return fail(e.wrap(fmt::format("authorization {}/{}", a.namespace_(), a.name())));
  };
  if (a.name().empty()) return bad(Error::invalid("name is empty"));
  Authorization out;
  out.name = a.name();
  out.namespace_ = a.namespace_();
  switch (a.scope()) {
    case sec::GLOBAL:
      out.scope = AuthorizationScope::kGlobal;
      break;
    case sec::NAMESPACE:
      out.scope = AuthorizationScope::kNamespace;
      break;
    case sec::WORKLOAD_SELECTOR:
      out.scope = AuthorizationScope::kWorkloadSelector;
      break;
    default:
      return bad(Error::invalid(fmt::format("scope {} unknown", int(a.scope()))));
  }
  switch (a.action()) {
    case sec::ALLOW:
      out.action = AuthorizationAction::kAllow;
      break;
    case sec::DENY:
      out.action = AuthorizationAction::kDeny;
      break;
    default:
      return bad(Error::invalid(fmt::format("action {} unknown", int(a.action()))));
  }
  out.dry_run = a.dry_run();
  for (int g = 0; g < a.groups_size(); ++g) {
    AuthorizationGroup group;
    for (int r = 0; r < a.groups(g).rules_size(); ++r) {
      AuthorizationRule rule;
      for (int m = 0; m < a.groups(g).rules(r).matches_size(); ++m) {
        auto converted = match(a.groups(g).rules(r).matches(m));
        if (!converted) {
          return bad(
              converted.error().wrap(fmt::format("groups[{}].rules[{}].matches[{}]", g, r, m)));
        }
        rule.matches.push_back(std::move(*converted));
      }
      group.rules.push_back(std::move(rule));
    }
    out.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace warren::ztunnel
