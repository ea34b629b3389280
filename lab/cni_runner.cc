#include "lab/cni_runner.h"

#include <unistd.h>

#include "lab/process.h"

namespace warren::lab {
using nlohmann::json;

json buildConflist(const CniNodeConfig& cfg) {
  json bridge = {
      {"type", "bridge"},
      {"bridge", "cni0"},
      {"isGateway", true},
      {"ipMasq", false},
      {"hairpinMode", false},
      {"ipam",
       {{"type", "host-local"},
        {"ranges",
         json::array({json::array({{{"subnet", cfg.pod_cidr}, {"gateway", cfg.gateway}}})})},
        {"routes", json::array({{{"dst", "0.0.0.0/0"}}})},
        {"dataDir", cfg.ipam_data_dir}}},
  };
  json plugins = json::array({bridge});
  if (!cfg.warren_cni_run_dir.empty())
    plugins.push_back({{"type", "warren-cni"}, {"runDir", cfg.warren_cni_run_dir}});
  return {{"cniVersion", "1.0.0"}, {"name", cfg.network_name}, {"plugins", plugins}};
}

json pluginConfig(const json& conflist, size_t index, const json& prev_result) {
  json cfg = conflist.at("plugins").at(index);
  cfg["cniVersion"] = conflist.value("cniVersion", "1.0.0");
  cfg["name"] = conflist.value("name", "");
  if (!prev_result.is_null()) cfg["prevResult"] = prev_result;
  return cfg;
}

Result<CniResult> parseCniResult(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail(Error(ErrorCode::kProtocol,
                      "CNI result is not a JSON object: '" + text.substr(0, 200) + "'"));
  if (j.contains("code") && !j.contains("ips")) {
    std::string msg = j.value("msg", "");
    std::string details = j.value("details", "");
    return fail(Error::invalid("CNI error " + j["code"].dump() + ": " + msg +
                               (details.empty() ? "" : " (" + details + ")")));
  }
  CniResult r;
  r.raw = j;
  if (j.contains("ips") && j["ips"].is_array()) {
    for (const auto& ip : j["ips"]) {
      if (!ip.is_object() || !ip.contains("address") || !ip["address"].is_string()) continue;
      std::string addr = ip["address"];
      if (addr.find(':') != std::string::npos) continue;  // IPv6
      r.pod_ip = addr.substr(0, addr.find('/'));
      if (ip.contains("gateway") && ip["gateway"].is_string()) r.gateway = ip["gateway"];
      break;
    }
  }
  if (r.pod_ip.empty())
    return fail(Error(ErrorCode::kProtocol, "CNI result has no IPv4 address in 'ips'"));
  return r;
}

Result<std::string> CniRunner::findPlugin(const std::string& type) const {
  size_t start = 0;
  while (start <= search_path_.size()) {
    size_t end = search_path_.find(':', start);
    if (end == std::string::npos) end = search_path_.size();
    std::string p = search_path_.substr(start, end - start) + "/" + type;
    if (::access(p.c_str(), X_OK) == 0) return p;
    start = end + 1;
  }
  return fail(Error::notFound("CNI plugin '" + type + "' not found in " + search_path_));
}

Result<std::string> CniRunner::invoke(const std::string& command, const CniPod& pod,
                                      const json& config) const {
  std::string type = config.value("type", "");
  auto plugin = findPlugin(type);
  if (!plugin) return fail(plugin.error());
  CommandSpec spec;
  spec.argv = {*plugin};
  spec.netns_path = node_netns_;
  spec.mounts = node_mounts_;
  spec.stdin_data = config.dump();
  spec.timeout = std::chrono::seconds(30);
  spec.env = std::map<std::string, std::string>{
      {"CNI_COMMAND", command},
      {"CNI_CONTAINERID", pod.container_id},
      {"CNI_NETNS", pod.netns_path},
      {"CNI_IFNAME", "eth0"},
      {"CNI_PATH", cni_path_},
      {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.ns + ";K8S_POD_NAME=" + pod.name +
                       ";K8S_POD_INFRA_CONTAINER_ID=" + pod.container_id +
                       ";K8S_POD_UID=" + pod.uid},
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
  };
  auto r = runCommand(spec);
  if (!r) return fail(r.error().wrap("CNI " + command + " " + type));
  if (r->exit_code != 0) {
    std::string detail = r->out.empty() ? r->err : r->out;
    while (!detail.empty() && detail.back() == '\n') detail.pop_back();
    return fail(Error::invalid("CNI " + command + " " + type + " for pod " + pod.ns + "/" +
                               pod.name + " failed (exit " + std::to_string(r->exit_code) +
                               "): " + detail));
  }
  return r->out;
}

Result<CniResult> CniRunner::add(const CniPod& pod) const {
  json prev = nullptr;
  const auto& plugins = conflist_.at("plugins");
  for (size_t i = 0; i < plugins.size(); ++i) {
    auto out = invoke("ADD", pod, pluginConfig(conflist_, i, prev));
    if (!out) return fail(out.error());
    // A chained plugin that prints nothing leaves the result as it was.
    if (out->find_first_not_of(" \n\t") == std::string::npos) continue;
    auto parsed = parseCniResult(*out);
    if (!parsed) return fail(parsed.error().wrap("CNI ADD " + plugins[i].value("type", "")));
    prev = parsed->raw;
  }
  auto r = parseCniResult(prev.dump());
  if (!r) return fail(r.error());
  return r;
}

Status CniRunner::del(const CniPod& pod, const json& cached_result) const {
  const auto& plugins = conflist_.at("plugins");
  Status first = ok();
  for (size_t i = plugins.size(); i-- > 0;) {
    auto out = invoke("DEL", pod, pluginConfig(conflist_, i, cached_result));
    if (!out && first) first = fail(out.error());
  }
  return first;
}

}  // namespace warren::lab
