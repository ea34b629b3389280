#include "warrenctl/waypoint_command.h"

#include "common/kube/kube_api_config.h"
#include "common/kube/kube_api_store.h"
#include "common/kube/manifest_store.h"

namespace warren::ctl {
namespace {

using nlohmann::json;

constexpr const char* kGatewayApi = "gateway.networking.k8s.io/v1";
constexpr const char* kUseWaypointLabel = "warren.dev/use-waypoint";

}  // namespace

Status validateWaypointSpec(const WaypointSpec& s) {
  if (!k8s::isValidName(s.name) || s.name.find('.') != std::string::npos)
    return fail(Error::invalid("waypoint name '" + s.name + "' is not a valid DNS label"));
  if (!k8s::isValidName(s.namespace_))
    return fail(Error::invalid("namespace '" + s.namespace_ + "' is not a valid name"));
  if (s.traffic_type != "service" && s.traffic_type != "workload" && s.traffic_type != "all" &&
      s.traffic_type != "none")
    return fail(Error::invalid("--for '" + s.traffic_type +
                               "' is not one of service, workload, all, none"));
  return ok();
}

std::string waypointGatewayYaml(const WaypointSpec& s) {
  return "apiVersion: " + std::string(kGatewayApi) +
         "\n"
         "kind: Gateway\n"
         "metadata:\n"
         "  name: " +
         s.name + "\n  namespace: " + s.namespace_ +
         "\n"
         "  labels:\n"
         "    warren.dev/waypoint-for: " +
         s.traffic_type +
         "\n"
         "spec:\n"
         "  gatewayClassName: warren-waypoint\n"
         "  listeners:\n"
         "  - name: mesh\n"
         "    port: 15008\n"
         "    protocol: HBONE\n";
}

Result<k8s::Object> waypointGateway(const WaypointSpec& s) {
  WARREN_TRY(validateWaypointSpec(s));
  json doc = {
      {"apiVersion", kGatewayApi},
      {"kind", "Gateway"},
      {"metadata",
       {{"name", s.name},
        {"namespace", s.namespace_},
        {"labels", {{"warren.dev/waypoint-for", s.traffic_type}}}}},
      {"spec",
       {{"gatewayClassName", "warren-waypoint"},
        {"listeners", json::array({{{"name", "mesh"}, {"port", 15008}, {"protocol", "HBONE"}}})}}}};
  return k8s::fromJson(doc, "warrenctl waypoint");
}

StoreChoice chooseObjectStore(const std::optional<std::string>& manifests_flag,
                              const std::optional<std::string>& lab_dir_flag,
                              const std::optional<std::string>& lab_dir_env,
                              bool (*lab_dir_exists)(const std::string&)) {
  if (manifests_flag) return {StoreChoice::Kind::kManifestDir, *manifests_flag, "from --manifests"};
  if (lab_dir_flag)
    return {StoreChoice::Kind::kManifestDir, *lab_dir_flag + "/manifests",
            "the lab in " + *lab_dir_flag + " (--lab-dir)"};
  if (lab_dir_env && lab_dir_exists(*lab_dir_env))
    return {StoreChoice::Kind::kManifestDir, *lab_dir_env + "/manifests",
            "the lab in " + *lab_dir_env + " ($WARREN_LAB_DIR)"};
  if (lab_dir_exists("/run/warren-lab"))
    return {StoreChoice::Kind::kManifestDir, "/run/warren-lab/manifests",
            "the lab in /run/warren-lab"};
  return {StoreChoice::Kind::kKubernetesApi, "", "the Kubernetes API"};
}

Result<std::unique_ptr<kube::ObjectStore>> openObjectStore(const StoreChoice& c) {
  if (c.kind == StoreChoice::Kind::kManifestDir)
    return std::unique_ptr<kube::ObjectStore>(std::make_unique<kube::ManifestStore>(c.path));
  auto cfg = kube::discoverKubeApiConfig();
  if (!cfg)
    return fail(
        cfg.error().wrap("no lab found and no Kubernetes API (use --manifests DIR, "
                         "--lab-dir DIR or a kubeconfig)"));
  return std::unique_ptr<kube::ObjectStore>(std::make_unique<kube::KubeApiStore>(std::move(*cfg)));
}

Result<std::string> applyWaypoint(kube::ObjectStore& store, const WaypointSpec& s) {
  auto gw = waypointGateway(s);
  if (!gw) return fail(gw.error());
  const std::string what = "waypoint " + s.namespace_ + "/" + s.name;
  auto current = store.get(kube::ObjectRef::of(*gw));
  if (!current) {
    if (current.error().code() != ErrorCode::kNotFound) return fail(current.error());
    auto created = store.create(*gw);
    if (!created) return fail(created.error().wrap("create " + what));
    return what + " applied (Gateway created in " + store.describe() + ")";
  }
  k8s::Object next = *current;
  next.meta.labels["warren.dev/waypoint-for"] = s.traffic_type;
  next.node["spec"] = YAML::Clone(gw->node["spec"]);
  auto updated = store.update(next);
  if (!updated) return fail(updated.error().wrap("update " + what));
  return what + " applied (Gateway updated in " + store.describe() + ")";
}

Result<std::string> enrollNamespace(kube::ObjectStore& store, const WaypointSpec& s) {
  const kube::ObjectRef ref{"v1", "Namespace", "", s.namespace_};
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto ns = store.get(ref);
    if (!ns) {
      if (ns.error().code() != ErrorCode::kNotFound) return fail(ns.error());
      auto fresh = k8s::fromJson(
          {{"apiVersion", "v1"},
           {"kind", "Namespace"},
           {"metadata", {{"name", s.namespace_}, {"labels", {{kUseWaypointLabel, s.name}}}}}},
          "warrenctl waypoint");
      if (!fresh) return fail(fresh.error());
      auto created = store.create(*fresh);
      if (created)
        return "namespace " + s.namespace_ + " labelled " + kUseWaypointLabel + "=" + s.name;
      if (created.error().code() != ErrorCode::kAlreadyExists) return fail(created.error());
      continue;
    }
    ns->meta.labels[kUseWaypointLabel] = s.name;
    auto updated = store.update(*ns);
    if (updated)
      return "namespace " + s.namespace_ + " labelled " + kUseWaypointLabel + "=" + s.name;
    if (updated.error().code() != ErrorCode::kConflict) return fail(updated.error());
  }
  return fail(
      Error(ErrorCode::kConflict, "namespace " + s.namespace_ + " kept changing; try again"));
}

Result<std::string> deleteWaypoints(kube::ObjectStore& store, const WaypointSpec& s, bool all) {
  std::vector<std::string> names;
  if (all) {
    auto gws = store.list(kGatewayApi, "Gateway", s.namespace_, {});
    if (!gws) return fail(gws.error());
    for (const auto& g : *gws) {
      k8s::Fields spec = k8s::Fields(g, g.node, "").child("spec");
      auto cls = spec.str("gatewayClassName");
      if (cls && *cls == "warren-waypoint") names.push_back(g.meta.name);
    }
  } else {
    names.push_back(s.name);
  }
  std::string out;
  for (const auto& name : names) {
    if (auto r = store.remove({kGatewayApi, "Gateway", s.namespace_, name}); !r)
      return fail(r.error().wrap("delete waypoint " + s.namespace_ + "/" + name));
    out += (out.empty() ? "" : "\n") + std::string("waypoint ") + s.namespace_ + "/" + name +
           " deleted";
  }
  if (out.empty()) out = "no waypoints in namespace " + s.namespace_;
  return out;
}

}  // namespace warren::ctl
