#include "agent/translate/workload_translation.h"

#include "agent/model/enrolment.h"
#include "agent/translate/authorization_translation.h"
#include "common/net/ip_address.h"

namespace warren::agent {
namespace {

namespace wl = istio::workload;

const std::string* label(const k8s::Labels& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : &it->second;
}

// The waypoint named by the object's own label, else by its namespace's (most specific wins;
// `none` at the object opts out even when the namespace names one). A Service's label governs
// traffic addressed to the Service; a pod's governs traffic addressed to the pod (as Istio's
// istio.io/use-waypoint). The Gateway's `waypoint-for` must accept that kind of traffic; a
// Gateway not (yet) in the model binds anyway, so traffic never silently skips a waypoint the
// user asked for (ztunnel fails the connection until the waypoint exists).
std::optional<wl::GatewayAddress> waypointFor(const ClusterSnapshot& snap,
                                              const k8s::ObjectMeta& meta,
                                              const TranslationContext& ctx, bool for_workload) {
  auto ref = waypointReference(snap, meta);
  if (!ref) return std::nullopt;
  const auto& [ns, name] = *ref;
  if (const Gateway* g = snap.waypointGateway(ns, name)) {
    if (!(for_workload ? g->acceptsWorkloadTraffic() : g->acceptsServiceTraffic()))
      return std::nullopt;
  } else if (for_workload) {
    return std::nullopt;  // without its Gateway, a waypoint takes service traffic only
  }
  wl::GatewayAddress gw;
  gw.set_hbone_mtls_port(kHboneMtlsPort);
  // Prefer the waypoint Service's VIP (what a node proxy can connect to without a lookup).
  auto svc = snap.services.find(ns + "/" + name);
  if (svc != snap.services.end()) {
    if (auto vip = net::IpAddress::parse(svc->second.cluster_ip)) {
      auto* a = gw.mutable_address();
      a->set_network(ctx.network);
      a->set_address(vip->wireBytes());
      return gw;
    }
  }
  auto* h = gw.mutable_hostname();
  h->set_namespace_(ns);
  h->set_hostname(name + "." + ns + ".svc." + ctx.cluster_domain);
  return gw;
}

// The pod's port for a Service port: a number as is, a name through the container ports.
std::optional<uint32_t> resolveTargetPort(const k8s::Pod& pod, const k8s::ServicePort& sp) {
  if (sp.target_port.number) return *sp.target_port.number;
  for (const auto& c : pod.spec.containers) {
    for (const auto& cp : c.ports) {
      if (cp.name == sp.target_port.name && cp.protocol == sp.protocol) return cp.container_port;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> waypointReference(const ClusterSnapshot& snap,
                                                                     const k8s::ObjectMeta& meta) {
  const std::string* name = label(meta.labels, kUseWaypointLabel);
  const std::string* wp_ns = label(meta.labels, kUseWaypointNamespaceLabel);
  if (!name) {
    const k8s::Labels& ns_labels = snap.namespaceLabels(meta.namespace_);
    name = label(ns_labels, kUseWaypointLabel);
    wp_ns = label(ns_labels, kUseWaypointNamespaceLabel);
  }
  if (!name || name->empty() || *name == "none") return std::nullopt;
  return std::pair{wp_ns && !wp_ns->empty() ? *wp_ns : meta.namespace_, *name};
}

bool isWaypointService(const ClusterSnapshot& snap, const k8s::Service& svc) {
  const std::string* gw = label(svc.selector, kGatewayNameLabel);
  return gw && snap.waypointGateway(svc.meta.namespace_, *gw);
}

const Gateway* waypointGatewayOfPod(const ClusterSnapshot& snap, const k8s::Pod& pod) {
  const std::string* gw = label(pod.meta.labels, kGatewayNameLabel);
  return gw ? snap.waypointGateway(pod.meta.namespace_, *gw) : nullptr;
}

std::string workloadUid(const TranslationContext& ctx, const std::string& ns,
                        const std::string& name) {
  return ctx.cluster_id + "//Pod/" + ns + "/" + name;
}

std::string serviceHostname(const TranslationContext& ctx, const k8s::Service& svc) {
  return svc.meta.name + "." + svc.meta.namespace_ + ".svc." + ctx.cluster_domain;
}

wl::AppProtocol appProtocol(const std::string& p) {
  if (p == "http" || p == "HTTP") return wl::HTTP11;
  if (p == "http2" || p == "h2c" || p == "kubernetes.io/h2c") return wl::HTTP2;
  if (p == "grpc" || p == "GRPC") return wl::GRPC;
  if (p == "tcp" || p == "TCP") return wl::TCP;
  if (p == "tls" || p == "TLS") return wl::TLS;
  return wl::UNKNOWN;
}

std::optional<wl::Workload> translatePod(const ClusterSnapshot& snap, const k8s::Pod& pod,
                                         const TranslationContext& ctx,
                                         std::vector<std::string>* notes) {
  if (pod.status.pod_ip.empty()) return std::nullopt;
  if (pod.status.phase == "Succeeded" || pod.status.phase == "Failed") return std::nullopt;
  auto ip = net::IpAddress::parse(pod.status.pod_ip);
  if (!ip) {
    if (notes)
      notes->push_back("Pod " + pod.meta.namespace_ + "/" + pod.meta.name + ": " +
                       ip.error().message());
    return std::nullopt;
  }
  const std::string& ns = pod.meta.namespace_;
  wl::Workload w;
  w.set_uid(workloadUid(ctx, ns, pod.meta.name));
  w.set_name(pod.meta.name);
  w.set_namespace_(ns);
  w.add_addresses(ip->wireBytes());
  w.set_network(ctx.network);
  const bool enrolled = isEnrolled(snap.namespaceLabels(ns), pod);
  w.set_tunnel_protocol(enrolled ? wl::HBONE : wl::NONE);
  w.set_trust_domain(ctx.trust_domain);
  w.set_service_account(pod.spec.service_account_name);
  w.set_node(pod.spec.node_name);
  const k8s::Labels& l = pod.meta.labels;
  const std::string* canon = label(l, "service.istio.io/canonical-name");
  if (!canon) canon = label(l, "app.kubernetes.io/name");
  if (!canon) canon = label(l, "app");
  w.set_canonical_name(canon ? *canon : pod.meta.name);
  const std::string* rev = label(l, "service.istio.io/canonical-revision");
  if (!rev) rev = label(l, "app.kubernetes.io/version");
  if (!rev) rev = label(l, "version");
  w.set_canonical_revision(rev ? *rev : "latest");
  w.set_workload_type(wl::POD);
  w.set_workload_name(canon ? *canon : pod.meta.name);
  w.set_status(pod.status.phase == "Running" ? wl::HEALTHY : wl::UNHEALTHY);
  w.set_cluster_id(ctx.cluster_id);
  if (pod.spec.host_network) w.set_network_mode(wl::HOST_NETWORK);
  for (const auto& [key, svc] : inNamespace(snap.services, ns)) {
    if (!k8s::selectorMatches(svc.selector, l)) continue;
    wl::PortList& ports = (*w.mutable_services())[ns + "/" + serviceHostname(ctx, svc)];
    for (const k8s::ServicePort& sp : svc.ports) {
      auto target = resolveTargetPort(pod, sp);
      if (!target) {
        if (notes)
          notes->push_back("Pod " + ns + "/" + pod.meta.name + ": Service " + key + " port " +
                           std::to_string(sp.port) + ": no container port named '" +
                           sp.target_port.name + "'");
        continue;
      }
      auto* p = ports.add_ports();
      p->set_service_port(sp.port);
      p->set_target_port(*target);
      p->set_app_protocol(appProtocol(sp.app_protocol));
    }
  }
  for (std::string& name : workloadPolicyNames(snap, pod, ctx.root_namespace))
    w.add_authorization_policies(std::move(name));
  if (waypointGatewayOfPod(snap, pod)) {
    // A waypoint speaks HBONE itself on 15008 (Istio: label networking.istio.io/tunnel=http),
    // and never has a waypoint of its own.
    w.set_tunnel_protocol(wl::HBONE);
    w.set_native_tunnel(true);
  } else if (auto gw = waypointFor(snap, pod.meta, ctx, true)) {
    *w.mutable_waypoint() = std::move(*gw);
  }
  return w;
}

std::optional<wl::Service> translateService(const ClusterSnapshot& snap, const k8s::Service& svc,
                                            const TranslationContext& ctx) {
  if (svc.type == "ExternalName") return std::nullopt;
  auto vip = net::IpAddress::parse(svc.cluster_ip);
  if (!vip) return std::nullopt;  // "", "None" (headless) or not yet allocated
  wl::Service s;
  s.set_name(svc.meta.name);
  s.set_namespace_(svc.meta.namespace_);
  s.set_hostname(serviceHostname(ctx, svc));
  auto* a = s.add_addresses();
  a->set_network(ctx.network);
  a->set_address(vip->wireBytes());
  for (const k8s::ServicePort& sp : svc.ports) {
    auto* p = s.add_ports();
    p->set_service_port(sp.port);
    p->set_target_port(sp.target_port.number ? *sp.target_port.number : 0);
    p->set_app_protocol(appProtocol(sp.app_protocol));
  }
  if (!isWaypointService(snap, svc))  // a waypoint's own Service never has a waypoint
    if (auto gw = waypointFor(snap, svc.meta, ctx, false)) *s.mutable_waypoint() = std::move(*gw);
  return s;
}

}  // namespace warren::agent
