#include "agent/controller/waypoint_resources.h"

#include "agent/translate/xds_resources.h"

namespace warren::agent {
namespace {

using nlohmann::json;

json metadataFor(const Gateway& g, const std::string& name) {
  json labels = json::object();
  for (const auto& [k, v] : g.infrastructure_labels) labels[k] = v;
  labels[kGatewayNameLabel] = g.meta.name;
  labels[kManagedByLabel] = kManagedByValue;
  json annotations = json::object();
  for (const auto& [k, v] : g.infrastructure_annotations) annotations[k] = v;
  return {{"name", name},
          {"namespace", g.meta.namespace_},
          {"labels", labels},
          {"annotations", annotations},
          {"ownerReferences", json::array({{{"apiVersion", std::string(kGatewayApiGroup) + "/v1"},
                                            {"kind", "Gateway"},
                                            {"name", g.meta.name},
                                            {"uid", g.meta.uid},
                                            {"controller", true},
                                            {"blockOwnerDeletion", true}}})}};
}

// Stamps the digest of the document (before the stamp) and turns it into an Object.
Result<k8s::Object> finish(json doc, const std::string& what) {
  doc["metadata"]["annotations"][kSpecHashAnnotation] = contentVersion(doc.dump());
  return k8s::fromJson(doc, what);
}

json env(const std::string& name, const std::string& field) {
  return {{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", field}}}}}};
}

}  // namespace

std::string waypointListenerProblem(const Gateway& g) {
  for (const auto& l : g.listeners)
    if (l.protocol == "HBONE" && l.port == kWaypointHbonePort) return "";
  return "a warren-waypoint Gateway needs a listener with protocol HBONE on port 15008 (e.g. "
         "{name: mesh, port: 15008, protocol: HBONE})";
}

bool ownedByGateway(const k8s::Object& obj, const std::string& gateway_uid) {
  const YAML::Node& root = obj.node;
  if (!root.IsMap() || !root["metadata"].IsDefined()) return false;
  const YAML::Node meta = root["metadata"];
  if (!meta.IsMap() || !meta["ownerReferences"].IsDefined()) return false;
  const YAML::Node refs = meta["ownerReferences"];
  if (!refs.IsSequence()) return false;
  for (const auto& r : refs) {
    if (!r.IsMap() || !r["kind"].IsDefined() || !r["uid"].IsDefined()) continue;
    if (r["kind"].Scalar() == "Gateway" && r["uid"].Scalar() == gateway_uid) return true;
  }
  return false;
}

Result<WaypointResources> waypointResources(const Gateway& g, const WaypointDeploymentOptions& o) {
  const std::string& name = g.meta.name;
  const std::string what = "waypoint resources of Gateway " + g.meta.namespace_ + "/" + name;
  WaypointResources out;

  json sa = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", metadataFor(g, name)}};
  auto sa_obj = finish(std::move(sa), what);
  if (!sa_obj) return fail(sa_obj.error());
  out.service_account = std::move(*sa_obj);

  json selector = {{kGatewayNameLabel, name}};
  json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", metadataFor(g, name)},
              {"spec",
               {{"selector", selector},
                {"ports", json::array({{{"name", "hbone"},
                                        {"port", kWaypointHbonePort},
                                        {"targetPort", kWaypointHbonePort},
                                        {"protocol", "TCP"},
                                        {"appProtocol", "hbone"}}})}}}};
  auto svc_obj = finish(std::move(svc), what);
  if (!svc_obj) return fail(svc_obj.error());
  out.service = std::move(*svc_obj);

  json pod_labels = json::object();
  for (const auto& [k, v] : g.infrastructure_labels) pod_labels[k] = v;
  pod_labels[kGatewayNameLabel] = name;
  pod_labels["warren.dev/dataplane-mode"] = "none";  // the waypoint speaks HBONE itself
  json pod_annotations = json::object();
  for (const auto& [k, v] : g.infrastructure_annotations) pod_annotations[k] = v;
  const std::string socket = o.node_proxy_dir + "/xds.sock";
  json command = json::array({"warren-waypoint", "--xds-socket", socket, "--trust-domain",
                              o.trust_domain, "--gateway", g.meta.namespace_ + "/" + name,
                              "--hbone-port", "15008", "--admin-port", "15000", "--metrics-port",
                              "15020", "--readiness-port", "15021", "--log-level", o.log_level});
  for (auto [annotation, flag] : {std::pair{kTracingEndpointAnnotation, "--tracing-otlp-endpoint"},
                                  std::pair{kTracingSamplingAnnotation, "--tracing-sampling"},
                                  std::pair{kWorkersAnnotation, "--workers"}}) {
    if (auto it = g.meta.annotations.find(annotation); it != g.meta.annotations.end()) {
      command.push_back(flag);
      command.push_back(it->second);
    }
  }
  json container = {
      {"name", "warren-waypoint"},
      {"image", o.image},
      {"command", std::move(command)},
      {"env",
       json::array({env("POD_NAME", "metadata.name"), env("POD_NAMESPACE", "metadata.namespace"),
                    env("NODE_NAME", "spec.nodeName"), env("POD_IP", "status.podIP")})},
      {"ports", json::array({{{"name", "hbone"}, {"containerPort", 15008}, {"protocol", "TCP"}},
                             {{"name", "metrics"}, {"containerPort", 15020}, {"protocol", "TCP"}},
                             {{"name", "status"}, {"containerPort", 15021}, {"protocol", "TCP"}}})},
      {"readinessProbe",
       {{"httpGet", {{"path", "/healthz/ready"}, {"port", 15021}}}, {"periodSeconds", 5}}},
      {"volumeMounts", json::array({{{"name", "warren-proxy"}, {"mountPath", o.node_proxy_dir}}})},
  };
  json deploy = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", metadataFor(g, name)},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", selector}}},
        {"template",
         {{"metadata", {{"labels", pod_labels}, {"annotations", pod_annotations}}},
          {"spec",
           {{"serviceAccountName", name},
            {"containers", json::array({container})},
            {"volumes",
             json::array(
                 {{{"name", "warren-proxy"},
                   {"hostPath", {{"path", o.node_proxy_dir}, {"type", "Directory"}}}}})}}}}}}}};
  auto deploy_obj = finish(std::move(deploy), what);
  if (!deploy_obj) return fail(deploy_obj.error());
  out.deployment = std::move(*deploy_obj);
  return out;
}

}  // namespace warren::agent
