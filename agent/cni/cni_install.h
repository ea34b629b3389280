// `warren-cni install | uninstall | status`: chains warren-cni into the node's existing CNI
// network config (it never replaces the primary plugin, as Istio's install-cni does), keeps it
// chained when the primary CNI rewrites its file (inotify), and removes itself on uninstall.
//
// Deciding is apart from doing: which file is the node's network config and how its plugin
// list changes are pure functions over names and JSON (table-tested in
// tests/agent/cni_install_test.cc); CniInstaller does the file work.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"

namespace warren::cni {

inline constexpr const char* kPluginType = "warren-cni";

// Which file is the node's network config: primaryCniConfigName (common/cni_config_dir.h).

// The chained form of a config file's JSON: a conflist (`plugins`) with exactly one warren-cni
// entry, last, whose runDir is `run_dir`; a single-plugin .conf becomes a conflist around it.
// Errors name what is wrong with the input (not an object, no plugins, no type). Pure.
Result<nlohmann::json> chainedConfig(const nlohmann::json& config, const std::string& run_dir);

// The config without any warren-cni entry. Pure.
nlohmann::json unchainedConfig(const nlohmann::json& config);

// Is warren-cni the last plugin, with this runDir? Pure.
bool isChained(const nlohmann::json& config, const std::string& run_dir);

struct CniInstallOptions {
  std::string bin_dir = "/opt/cni/bin";     // where runtimes look for plugins (CNI_PATH)
  std::string conf_dir = "/etc/cni/net.d";  // where the primary CNI writes its config
  std::string run_dir = "/var/run/warren";  // written into the chained entry (cni.sock there)
  std::string self_binary;                  // copied to <bin_dir>/warren-cni
  bool watch = false;
};

enum class CniTool { kInstall, kUninstall, kStatus };
struct CniToolCommand {
  CniTool tool;
  CniInstallOptions options;
};
struct CniToolHelp {
  std::string text;
};
// argv[1..] of warren-cni when the first word is install/uninstall/status (flags as
// --name=value or --name value). Pure.
Result<std::variant<CniToolCommand, CniToolHelp>> parseCniToolArgs(
    const std::vector<std::string>& args);
std::string cniToolUsage();

class CniInstaller {
 public:
  explicit CniInstaller(CniInstallOptions options) : options_(std::move(options)) {}

  // Copies the plugin binary into bin_dir (atomic rename), then chains the primary config.
  // Fails when conf_dir holds no network config: there is no primary CNI to chain into yet.
  Status install();
  // Re-chains whenever the conf dir changes, until `stop` is set (checked at least every
  // 200 ms). Returns when stopped or on an inotify error.
  Status watch(const std::atomic<bool>& stop);
  // Removes warren-cni from every config file in conf_dir and the binary from bin_dir.
  Status uninstall();
  // ok() when the binary is installed and the primary config is chained; else why not.
  Status status() const;

  // What the last install/watch pass did: "chained 10-bridge.conflist", "already chained ...".
  const std::string& lastAction() const { return last_action_; }

 private:
  Status installBinary();
  Status chainPrimary();
  Result<std::string> primaryPath() const;

  CniInstallOptions options_;
  std::string last_action_;
};

}  // namespace warren::cni
