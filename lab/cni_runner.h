// Adds and removes pods through CNI exactly as kubelet's container runtime does: a CNI 1.0
// conflist per node (bridge + host-local, then warren-cni when built), each plugin exec'd in
// the node netns with the CNI_* environment and its config on stdin, prevResult passed along
// the chain on ADD; DEL runs the chain in reverse with the cached ADD result.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "lab/process.h"

namespace warren::lab {

struct CniNodeConfig {
  std::string network_name;  // conflist "name"
  std::string pod_cidr;
  std::string gateway;
  std::string ipam_data_dir;       // host-local state, inside the lab dir
  std::string warren_cni_run_dir;  // empty: do not chain warren-cni
};

// The conflist text for one node. Pure.
nlohmann::json buildConflist(const CniNodeConfig& cfg);

// The stdin config of plugin `index` of `conflist`: the plugin object plus the list's name and
// cniVersion, and prevResult when given (not null). Pure.
nlohmann::json pluginConfig(const nlohmann::json& conflist, size_t index,
                            const nlohmann::json& prev_result);

struct CniResult {
  std::string pod_ip;  // first IPv4 address, without prefix length
  std::string gateway;
  nlohmann::json raw;  // the whole result, cached for DEL
};

// Parses a plugin's stdout: a CNI result, or a CNI error object ({"code", "msg", "details"})
// turned into an Error. Pure.
Result<CniResult> parseCniResult(const std::string& text);

struct CniPod {
  std::string ns;
  std::string name;
  std::string uid;
  std::string container_id;
  std::string netns_path;  // CNI_NETNS
};

class CniRunner {
 public:
  // node_netns_path: where the plugins run; cni_path: CNI_PATH as the plugins see it
  // (':'-separated); search_path: the same directories as real paths here (default: cni_path);
  // node_mounts: the node's host paths, bound in a private mount namespace for each plugin.
  CniRunner(nlohmann::json conflist, std::string node_netns_path, std::string cni_path,
            std::string search_path = "", MountSetup node_mounts = {})
      : conflist_(std::move(conflist)),
        node_netns_(std::move(node_netns_path)),
        cni_path_(std::move(cni_path)),
        search_path_(search_path.empty() ? cni_path_ : std::move(search_path)),
        node_mounts_(std::move(node_mounts)) {}

  Result<CniResult> add(const CniPod& pod) const;
  // Best effort over the whole chain; returns the first error after trying every plugin.
  Status del(const CniPod& pod, const nlohmann::json& cached_result) const;

 private:
  Result<std::string> invoke(const std::string& command, const CniPod& pod,
                             const nlohmann::json& config) const;
  Result<std::string> findPlugin(const std::string& type) const;

  nlohmann::json conflist_;
  std::string node_netns_;
  std::string cni_path_;
  std::string search_path_;
  MountSetup node_mounts_;
};

}  // namespace warren::lab
