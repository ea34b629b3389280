#include "mesh/state/xds_convert.h"

#include <string>

namespace warren::mesh {

namespace iw = istio::workload;
namespace is = istio::security;

namespace {

std::unexpected<Error> bad(const std::string& what) { return fail(Error::invalid(what)); }

std::string at(const char* field, int i) { return std::string(field) + "[" + std::to_string(i) + "]"; }

Result<uint16_t> port(uint32_t value, const std::string& what, bool zero_ok) {
  if (value > 65535 || (!zero_ok && value == 0)) {
    return bad(what + ": invalid port " + std::to_string(value));
  }
  return static_cast<uint16_t>(value);
}

Result<net::IpAddress> ipBytes(const std::string& bytes, const std::string& what) {
  auto ip = net::IpAddress::fromBytes(bytes);
  if (!ip) return fail(ip.error().wrap(what));
  return *ip;
}

Result<NetworkAddress> networkAddress(const iw::NetworkAddress& p, const std::string& what) {
  auto ip = ipBytes(p.address(), what);
  if (!ip) return fail(ip.error());
  return NetworkAddress{p.network(), *ip};
}

Result<GatewayAddress> gatewayAddress(const iw::GatewayAddress& p, const std::string& what) {
  GatewayAddress g;
  switch (p.destination_case()) {
    case iw::GatewayAddress::kHostname:
      if (p.hostname().namespace_().empty() || p.hostname().hostname().empty()) {
        return bad(what + ": hostname needs namespace and hostname");
      }
      g.destination = NamespacedHostname{p.hostname().namespace_(), p.hostname().hostname()};
      break;
    case iw::GatewayAddress::kAddress: {
      auto a = networkAddress(p.address(), what + ".address");
      if (!a) return fail(a.error());
      g.destination = *a;
      break;
    }
    default: return bad(what + ": neither hostname nor address set");
  }
  // Unset means the standard HBONE port (ztunnel does the same).
  auto hp = port(p.hbone_mtls_port(), what + ".hbone_mtls_port", true);
  if (!hp) return fail(hp.error());
  g.hbone_mtls_port = *hp == 0 ? kHboneMtlsPort : *hp;
  return g;
}

Result<PortMap> portList(const iw::PortList& p, const std::string& what) {
  PortMap m;
  for (int i = 0; i < p.ports_size(); ++i) {
    auto sp = port(p.ports(i).service_port(), what + "." + at("ports", i) + ".service_port", false);
    if (!sp) return fail(sp.error());
    auto tp = port(p.ports(i).target_port(), what + "." + at("ports", i) + ".target_port", true);
    if (!tp) return fail(tp.error());
    m[*sp] = *tp;
  }
  return m;
}

template <class E>
std::unexpected<Error> badEnum(const std::string& what, E value) {
  return bad(what + ": unknown enum value " + std::to_string(static_cast<int>(value)));
}

Status fillWorkload(const iw::Workload& p, Workload& w) {
  w.uid = p.uid();
  w.name = p.name();
  w.namespace_ = p.namespace_();
  if (w.uid.empty()) return bad("empty uid");
  if (w.namespace_.empty()) return bad("empty namespace");
  for (int i = 0; i < p.addresses_size(); ++i) {
    auto ip = ipBytes(p.addresses(i), at("addresses", i));
    if (!ip) return fail(ip.error());
    w.addresses.push_back(*ip);
  }
  w.hostname = p.hostname();
  w.network = p.network();
  switch (p.tunnel_protocol()) {
    case iw::NONE: w.tunnel_protocol = TunnelProtocol::kNone; break;
    case iw::HBONE: w.tunnel_protocol = TunnelProtocol::kHbone; break;
    case iw::LEGACY_ISTIO_MTLS: w.tunnel_protocol = TunnelProtocol::kLegacyIstioMtls; break;
    default: return badEnum("tunnel_protocol", p.tunnel_protocol());
  }
  w.trust_domain = p.trust_domain();
  w.service_account = p.service_account();
  if (p.has_waypoint()) {
    auto g = gatewayAddress(p.waypoint(), "waypoint");
    if (!g) return fail(g.error());
    w.waypoint = *g;
  }
  if (p.has_network_gateway()) {
    auto g = gatewayAddress(p.network_gateway(), "network_gateway");
    if (!g) return fail(g.error());
    w.network_gateway = *g;
  }
  w.node = p.node();
  w.canonical_name = p.canonical_name();
  w.canonical_revision = p.canonical_revision();
  switch (p.workload_type()) {
    case iw::DEPLOYMENT: w.workload_type = WorkloadType::kDeployment; break;
    case iw::CRONJOB: w.workload_type = WorkloadType::kCronJob; break;
    case iw::POD: w.workload_type = WorkloadType::kPod; break;
    case iw::JOB: w.workload_type = WorkloadType::kJob; break;
    default: return badEnum("workload_type", p.workload_type());
  }
  w.workload_name = p.workload_name();
  if (p.has_application_tunnel()) {
    ApplicationTunnel t;
    switch (p.application_tunnel().protocol()) {
      case iw::ApplicationTunnel::NONE: t.protocol = ApplicationTunnelProtocol::kNone; break;
      case iw::ApplicationTunnel::PROXY: t.protocol = ApplicationTunnelProtocol::kProxy; break;
      default: return badEnum("application_tunnel.protocol", p.application_tunnel().protocol());
    }
    auto tp = port(p.application_tunnel().port(), "application_tunnel.port", true);
    if (!tp) return fail(tp.error());
    t.port = *tp;
    w.application_tunnel = t;
  }
  for (const auto& [key, ports] : p.services()) {
    std::string what = "services[\"" + key + "\"]";
    auto slash = key.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == key.size()) {
      return bad(what + ": key must be namespace/hostname");
    }
    auto m = portList(ports, what);
    if (!m) return fail(m.error());
    w.services[key] = std::move(*m);
  }
  w.authorization_policies.assign(p.authorization_policies().begin(),
                                  p.authorization_policies().end());
  switch (p.status()) {
    case iw::HEALTHY: w.status = WorkloadStatus::kHealthy; break;
    case iw::UNHEALTHY: w.status = WorkloadStatus::kUnhealthy; break;
    default: return badEnum("status", p.status());
  }
  w.cluster_id = p.cluster_id();
  w.locality = {p.locality().region(), p.locality().zone(), p.locality().subzone()};
  switch (p.network_mode()) {
    case iw::STANDARD: w.network_mode = NetworkMode::kStandard; break;
    case iw::HOST_NETWORK: w.network_mode = NetworkMode::kHostNetwork; break;
    default: return badEnum("network_mode", p.network_mode());
  }
  w.capacity = p.has_capacity() ? p.capacity().value() : 1;
  return ok();
}

Status fillService(const iw::Service& p, Service& s) {
  s.name = p.name();
  s.namespace_ = p.namespace_();
  s.hostname = p.hostname();
  if (s.namespace_.empty() || s.hostname.empty()) return bad("namespace and hostname are required");
  for (int i = 0; i < p.addresses_size(); ++i) {
    auto a = networkAddress(p.addresses(i), at("addresses", i));
    if (!a) return fail(a.error());
    s.addresses.push_back(*a);
  }
  for (int i = 0; i < p.ports_size(); ++i) {
    const auto& pp = p.ports(i);
    ServicePort sp;
    auto svc = port(pp.service_port(), at("ports", i) + ".service_port", false);
    if (!svc) return fail(svc.error());
    auto tgt = port(pp.target_port(), at("ports", i) + ".target_port", true);
    if (!tgt) return fail(tgt.error());
    sp.service_port = *svc;
    sp.target_port = *tgt;
    switch (pp.app_protocol()) {
      case iw::UNKNOWN: sp.app_protocol = AppProtocol::kUnknown; break;
      case iw::HTTP11: sp.app_protocol = AppProtocol::kHttp11; break;
      case iw::HTTP2: sp.app_protocol = AppProtocol::kHttp2; break;
      case iw::GRPC: sp.app_protocol = AppProtocol::kGrpc; break;
      case iw::TCP: sp.app_protocol = AppProtocol::kTcp; break;
      case iw::TLS: sp.app_protocol = AppProtocol::kTls; break;
      default: return badEnum(at("ports", i) + ".app_protocol", pp.app_protocol());
    }
    s.ports.push_back(sp);
  }
  for (int i = 0; i < p.subject_alt_names_size(); ++i) {
    auto id = identity::SpiffeId::parse(p.subject_alt_names(i));
    if (!id) return fail(id.error().wrap(at("subject_alt_names", i)));
    s.subject_alt_names.push_back(std::move(*id));
  }
  if (p.has_waypoint()) {
    auto g = gatewayAddress(p.waypoint(), "waypoint");
    if (!g) return fail(g.error());
    s.waypoint = *g;
  }
  if (p.has_load_balancing()) {
    const auto& lp = p.load_balancing();
    LoadBalancing lb;
    for (int i = 0; i < lp.routing_preference_size(); ++i) {
      switch (lp.routing_preference(i)) {
        case iw::LoadBalancing::REGION: lb.routing_preference.push_back(LoadBalancingScope::kRegion); break;
        case iw::LoadBalancing::ZONE: lb.routing_preference.push_back(LoadBalancingScope::kZone); break;
        case iw::LoadBalancing::SUBZONE: lb.routing_preference.push_back(LoadBalancingScope::kSubzone); break;
        case iw::LoadBalancing::NODE: lb.routing_preference.push_back(LoadBalancingScope::kNode); break;
        case iw::LoadBalancing::CLUSTER: lb.routing_preference.push_back(LoadBalancingScope::kCluster); break;
        case iw::LoadBalancing::NETWORK: lb.routing_preference.push_back(LoadBalancingScope::kNetwork); break;
        default:
          return badEnum("load_balancing." + at("routing_preference", i), lp.routing_preference(i));
      }
    }
    switch (lp.mode()) {
      case iw::LoadBalancing::UNSPECIFIED_MODE: lb.mode = LoadBalancingMode::kUnspecified; break;
      case iw::LoadBalancing::STRICT: lb.mode = LoadBalancingMode::kStrict; break;
      case iw::LoadBalancing::FAILOVER: lb.mode = LoadBalancingMode::kFailover; break;
      case iw::LoadBalancing::PASSTHROUGH: lb.mode = LoadBalancingMode::kPassthrough; break;
      default: return badEnum("load_balancing.mode", lp.mode());
    }
    switch (lp.health_policy()) {
      case iw::LoadBalancing::ONLY_HEALTHY: lb.health_policy = HealthPolicy::kOnlyHealthy; break;
      case iw::LoadBalancing::ALLOW_ALL: lb.health_policy = HealthPolicy::kAllowAll; break;
      default: return badEnum("load_balancing.health_policy", lp.health_policy());
    }
    s.load_balancing = lb;
  }
  switch (p.ip_families()) {
    case iw::AUTOMATIC: s.ip_families = IpFamilies::kAutomatic; break;
    case iw::IPV4_ONLY: s.ip_families = IpFamilies::kIpv4Only; break;
    case iw::IPV6_ONLY: s.ip_families = IpFamilies::kIpv6Only; break;
    case iw::DUAL: s.ip_families = IpFamilies::kDual; break;
    default: return badEnum("ip_families", p.ip_families());
  }
  return ok();
}

Status stringMatches(const google::protobuf::RepeatedPtrField<is::StringMatch>& in,
                     std::vector<StringMatch>& out, const std::string& what) {
  for (int i = 0; i < in.size(); ++i) {
    const auto& m = in.Get(i);
    switch (m.match_type_case()) {
      case is::StringMatch::kExact: out.push_back(StringMatch::exact(m.exact())); break;
      case is::StringMatch::kPrefix: out.push_back(StringMatch::prefix(m.prefix())); break;
      case is::StringMatch::kSuffix: out.push_back(StringMatch::suffix(m.suffix())); break;
      case is::StringMatch::kPresence: out.push_back(StringMatch::presence()); break;
      default: return bad(what + "[" + std::to_string(i) + "]: no match type set");
    }
  }
  return ok();
}

Status cidrs(const google::protobuf::RepeatedPtrField<is::Address>& in,
             std::vector<net::IpCidr>& out, const std::string& what) {
  for (int i = 0; i < in.size(); ++i) {
    std::string w = what + "[" + std::to_string(i) + "]";
    auto ip = ipBytes(in.Get(i).address(), w);
    if (!ip) return fail(ip.error());
    auto c = net::IpCidr::make(*ip, in.Get(i).length());
    if (!c) return fail(c.error().wrap(w));
    out.push_back(*c);
  }
  return ok();
}

Status ports(const google::protobuf::RepeatedField<uint32_t>& in, std::vector<uint16_t>& out,
             const std::string& what) {
  for (int i = 0; i < in.size(); ++i) {
    auto p = port(in.Get(i), what + "[" + std::to_string(i) + "]", false);
    if (!p) return fail(p.error());
    out.push_back(*p);
  }
  return ok();
}

void serviceAccounts(const google::protobuf::RepeatedPtrField<is::ServiceAccountMatch>& in,
                     std::vector<ServiceAccountMatch>& out) {
  for (const auto& sa : in) out.push_back({sa.namespace_(), sa.serviceaccount()});
}

Result<AuthorizationMatch> match(const is::Match& p, const std::string& w) {
  AuthorizationMatch m;
  WARREN_TRY(stringMatches(p.namespaces(), m.namespaces, w + ".namespaces"));
  WARREN_TRY(stringMatches(p.not_namespaces(), m.not_namespaces, w + ".not_namespaces"));
  WARREN_TRY(stringMatches(p.principals(), m.principals, w + ".principals"));
  WARREN_TRY(stringMatches(p.not_principals(), m.not_principals, w + ".not_principals"));
  WARREN_TRY(cidrs(p.source_ips(), m.source_ips, w + ".source_ips"));
  WARREN_TRY(cidrs(p.not_source_ips(), m.not_source_ips, w + ".not_source_ips"));
  WARREN_TRY(cidrs(p.destination_ips(), m.destination_ips, w + ".destination_ips"));
  WARREN_TRY(cidrs(p.not_destination_ips(), m.not_destination_ips, w + ".not_destination_ips"));
  WARREN_TRY(ports(p.destination_ports(), m.destination_ports, w + ".destination_ports"));
  WARREN_TRY(
      ports(p.not_destination_ports(), m.not_destination_ports, w + ".not_destination_ports"));
  serviceAccounts(p.service_accounts(), m.service_accounts);
  serviceAccounts(p.not_service_accounts(), m.not_service_accounts);
  return m;
}

Status fillAuthorization(const is::Authorization& p, Authorization& a) {
  a.name = p.name();
  a.namespace_ = p.namespace_();
  if (a.name.empty() || a.namespace_.empty()) return bad("namespace and name are required");
  switch (p.scope()) {
    case is::GLOBAL: a.scope = AuthorizationScope::kGlobal; break;
    case is::NAMESPACE: a.scope = AuthorizationScope::kNamespace; break;
    case is::WORKLOAD_SELECTOR: a.scope = AuthorizationScope::kWorkloadSelector; break;
    default: return badEnum("scope", p.scope());
  }
  switch (p.action()) {
    case is::ALLOW: a.action = AuthorizationAction::kAllow; break;
    case is::DENY: a.action = AuthorizationAction::kDeny; break;
    default: return badEnum("action", p.action());
  }
  a.dry_run = p.dry_run();
  for (int g = 0; g < p.groups_size(); ++g) {
    AuthorizationGroup group;
    for (int r = 0; r < p.groups(g).rules_size(); ++r) {
      AuthorizationRule rule;
      const auto& rp = p.groups(g).rules(r);
      for (int m = 0; m < rp.matches_size(); ++m) {
        auto mm = match(rp.matches(m), at("groups", g) + "." + at("rules", r) + "." +
                                           at("matches", m));
        if (!mm) return fail(mm.error());
        rule.matches.push_back(std::move(*mm));
      }
      group.rules.push_back(std::move(rule));
    }
    a.groups.push_back(std::move(group));
  }
  return ok();
}

}  // namespace

Result<Workload> convertWorkload(const iw::Workload& proto) {
  Workload w;
  if (auto s = fillWorkload(proto, w); !s) {
    return fail(s.error().wrap("workload " + (proto.uid().empty() ? proto.name() : proto.uid())));
  }
  return w;
}

Result<Service> convertService(const iw::Service& proto) {
  Service s;
  if (auto st = fillService(proto, s); !st) {
    return fail(st.error().wrap("service " + proto.namespace_() + "/" + proto.hostname()));
  }
  return s;
}

Result<Authorization> convertAuthorization(const is::Authorization& proto) {
  Authorization a;
  if (auto s = fillAuthorization(proto, a); !s) {
    return fail(s.error().wrap("authorization " + proto.namespace_() + "/" + proto.name()));
  }
  return a;
}

ConvertedDelta convertDelta(const envoy::service::discovery::v3::DeltaDiscoveryResponse& response) {
  ConvertedDelta out;
  const std::string& type = response.type_url();
  bool is_address = type == kAddressTypeUrl;
  if (!is_address && type != kAuthorizationTypeUrl) {
    out.rejected.push_back(Error::invalid("delta xDS push of unsupported type '" + type + "'"));
    return out;
  }
  for (const auto& res : response.resources()) {
    std::string what = "resource '" + res.name() + "'";
    if (res.resource().type_url() != type) {
      out.rejected.push_back(Error::invalid(what + ": body type '" + res.resource().type_url() +
                                            "' does not match the push type " + type));
      continue;
    }
    if (is_address) {
      iw::Address address;
      if (!address.ParseFromString(res.resource().value())) {
        out.rejected.push_back(Error::invalid(what + ": cannot parse istio.workload.Address"));
        continue;
      }
      if (address.has_workload()) {
        auto w = convertWorkload(address.workload());
        if (w) {
          out.update.workloads.push_back(std::move(*w));
          out.accepted_versions[res.name()] = res.version();
        } else {
          out.rejected.push_back(w.error().wrap(what));
        }
      } else if (address.has_service()) {
        auto s = convertService(address.service());
        if (s) {
          out.update.services.push_back(std::move(*s));
          out.accepted_versions[res.name()] = res.version();
        } else {
          out.rejected.push_back(s.error().wrap(what));
        }
      } else {
        out.rejected.push_back(Error::invalid(what + ": Address has neither workload nor service"));
      }
    } else {
      is::Authorization auth;
      if (!auth.ParseFromString(res.resource().value())) {
        out.rejected.push_back(
            Error::invalid(what + ": cannot parse istio.security.Authorization"));
        continue;
      }
      auto a = convertAuthorization(auth);
      if (a) {
        out.update.policies.push_back(std::move(*a));
        out.accepted_versions[res.name()] = res.version();
      } else {
        out.rejected.push_back(a.error().wrap(what));
      }
    }
  }
  auto& removed = is_address ? out.update.removed_addresses : out.update.removed_policies;
  removed.assign(response.removed_resources().begin(), response.removed_resources().end());
  return out;
}

}  // namespace warren::mesh
