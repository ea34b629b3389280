#include "agent/cni/cni_install.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/cni_config_dir.h"
#include "common/unique_fd.h"

namespace warren::cni {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool isWarren(const json& plugin) {
  return plugin.is_object() && plugin.value("type", "") == kPluginType;
}

Result<std::string> readText(const std::string& path) {
  std::ifstream f(path);
  if (!f) return fail(WARREN_SYS_ERROR("open " + path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Write to a dot-file in the same directory, then rename over `path`: a runtime reading the
// directory sees the old file or the new one, never half of one.
Status writeAtomic(const std::string& path, const std::string& text, mode_t mode) {
  fs::path p(path);
  std::string tmp = (p.parent_path() / ("." + p.filename().string() + ".warren-tmp")).string();
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return fail(WARREN_SYS_ERROR("create " + tmp));
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        auto e = WARREN_SYS_ERROR("write " + tmp);
        ::unlink(tmp.c_str());
        return fail(e);
      }
      off += static_cast<size_t>(n);
    }
    if (::fchmod(fd.get(), mode) != 0) return fail(WARREN_SYS_ERROR("chmod " + tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = WARREN_SYS_ERROR("rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return fail(e);
  }
  return ok();
}

std::vector<std::string> configNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) names.push_back(it->path().filename().string());
  return names;
}

Result<json> readConfig(const std::string& path) {
  auto text = readText(path);
  if (!text) return fail(text.error());
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return fail(Error::invalid(path + ": not valid JSON"));
  return j;
}

}  // namespace

Result<json> chainedConfig(const json& config, const std::string& run_dir) {
  if (!config.is_object()) return fail(Error::invalid("network config is not a JSON object"));
  json list;
  if (config.contains("plugins")) {
    if (!config["plugins"].is_array() || config["plugins"].empty())
      return fail(Error::invalid("network config: 'plugins' is not a non-empty list"));
    list = config;
  } else {
    // A single-plugin .conf: the list keeps its name and version, the plugin the rest.
    if (!config.contains("type") || !config["type"].is_string())
      return fail(Error::invalid("network config has neither 'plugins' nor a plugin 'type'"));
    json plugin = config;
    plugin.erase("name");
    plugin.erase("cniVersion");
    list = json::object();
    list["cniVersion"] = config.value("cniVersion", "1.0.0");
    list["name"] = config.value("name", "k8s-pod-network");
    list["plugins"] = json::array({plugin});
  }
  json plugins = json::array();
  for (const auto& p : list["plugins"]) {
    if (!p.is_object() || !p.contains("type"))
      return fail(Error::invalid("network config: a plugin entry has no 'type'"));
    if (!isWarren(p)) plugins.push_back(p);
  }
  if (plugins.empty())
    return fail(Error::invalid("network config holds only warren-cni: no primary plugin"));
  plugins.push_back(json{{"type", kPluginType}, {"runDir", run_dir}});
  list["plugins"] = std::move(plugins);
  return list;
}

json unchainedConfig(const json& config) {
  if (!config.is_object() || !config.contains("plugins") || !config["plugins"].is_array())
    return config;
  json out = config;
  json plugins = json::array();
  for (const auto& p : config["plugins"])
    if (!isWarren(p)) plugins.push_back(p);
  out["plugins"] = std::move(plugins);
  return out;
}

bool isChained(const json& config, const std::string& run_dir) {
  if (!config.is_object() || !config.contains("plugins") || !config["plugins"].is_array())
    return false;
  const auto& plugins = config["plugins"];
  size_t ours = 0;
  for (const auto& p : plugins) ours += isWarren(p) ? 1 : 0;
  return ours == 1 && plugins.size() > 1 && isWarren(plugins.back()) &&
         plugins.back().value("runDir", "") == run_dir;
}

std::string cniToolUsage() {
  return "usage: warren-cni install   [--cni-bin-dir DIR] [--cni-conf-dir DIR] [--run-dir DIR] "
         "[--watch]\n"
         "       warren-cni uninstall [--cni-bin-dir DIR] [--cni-conf-dir DIR]\n"
         "       warren-cni status    [--cni-bin-dir DIR] [--cni-conf-dir DIR] [--run-dir DIR]\n"
         "Defaults: --cni-bin-dir /opt/cni/bin --cni-conf-dir /etc/cni/net.d --run-dir "
         "/var/run/warren.\n"
         "install copies this binary into the bin dir and appends warren-cni to the node's\n"
         "network config (the first *.conflist/*.conf/*.json by name); --watch keeps it\n"
         "there when the primary CNI rewrites the file, until SIGTERM (which leaves it\n"
         "installed: an update follows). uninstall removes both. status exits 0 when\n"
         "installed. Without a subcommand warren-cni is the CNI plugin (CNI_COMMAND).\n";
}

Result<std::variant<CniToolCommand, CniToolHelp>> parseCniToolArgs(
    const std::vector<std::string>& args) {
  if (args.empty()) return fail(Error::invalid("no subcommand (install, uninstall, status)"));
  CniToolCommand cmd{};
  const std::string& sub = args[0];
  if (sub == "install")
    cmd.tool = CniTool::kInstall;
  else if (sub == "uninstall")
    cmd.tool = CniTool::kUninstall;
  else if (sub == "status")
    cmd.tool = CniTool::kStatus;
  else
    return fail(Error::invalid("unknown subcommand '" + sub + "' (install, uninstall, status)"));
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") return CniToolHelp{cniToolUsage()};
    if (!a.starts_with("--")) return fail(Error::invalid("unexpected argument '" + a + "'"));
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "watch") {
      if (cmd.tool != CniTool::kInstall)
        return fail(Error::invalid("--watch is a flag of install only"));
      if (has_value) return fail(Error::invalid("--watch takes no value"));
      cmd.options.watch = true;
      continue;
    }
    std::string* field = name == "cni-bin-dir"    ? &cmd.options.bin_dir
                         : name == "cni-conf-dir" ? &cmd.options.conf_dir
                         : name == "run-dir"      ? &cmd.options.run_dir
                                                  : nullptr;
    if (!field) return fail(Error::invalid("unknown flag --" + name));
    if (!has_value) {
      if (i + 1 >= args.size()) return fail(Error::invalid("flag --" + name + " needs a value"));
      value = args[++i];
    }
    if (value.empty() || value.front() != '/')
      return fail(
          Error::invalid("flag --" + name + " wants an absolute path, not '" + value + "'"));
    *field = value;
  }
  return cmd;
}

Result<std::string> CniInstaller::primaryPath() const {
  auto name = primaryCniConfigName(configNames(options_.conf_dir));
  if (!name)
    return fail(Error::notFound("no CNI network config in " + options_.conf_dir +
                                " (*.conflist, *.conf, *.json): the primary CNI has not "
                                "written one yet"));
  return options_.conf_dir + "/" + *name;
}

Status CniInstaller::installBinary() {
  if (options_.self_binary.empty()) return fail(Error::invalid("install: own binary unknown"));
  auto bytes = readText(options_.self_binary);
  if (!bytes) return fail(bytes.error().wrap("install: reading the plugin binary"));
  std::error_code ec;
  fs::create_directories(options_.bin_dir, ec);
  return writeAtomic(options_.bin_dir + "/" + kPluginType, *bytes, 0755);
}

Status CniInstaller::chainPrimary() {
  auto path = primaryPath();
  if (!path) return fail(path.error());
  auto config = readConfig(*path);
  if (!config) return fail(config.error());
  std::string name = fs::path(*path).filename().string();
  if (isChained(*config, options_.run_dir)) {
    last_action_ = "already chained " + name;
    return ok();
  }
  auto chained = chainedConfig(*config, options_.run_dir);
  if (!chained) return fail(chained.error().wrap(*path));
  std::string target = *path;
  if (!name.ends_with(".conflist")) {
    // Runtimes read a plugin list only from *.conflist: the single-plugin file becomes one.
    target = options_.conf_dir + "/" + fs::path(name).stem().string() + ".conflist";
  }
  WARREN_TRY(writeAtomic(target, chained->dump(2) + "\n", 0644));
  if (target != *path && ::unlink(path->c_str()) != 0 && errno != ENOENT)
    return fail(WARREN_SYS_ERROR("remove " + *path + " (now " + target + ")"));
  last_action_ = "chained " + fs::path(target).filename().string();
  return ok();
}

Status CniInstaller::install() {
  WARREN_TRY(installBinary());
  return chainPrimary();
}

Status CniInstaller::watch(const std::atomic<bool>& stop) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return fail(WARREN_SYS_ERROR("inotify_init1"));
  if (::inotify_add_watch(fd.get(), options_.conf_dir.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE) < 0)
    return fail(WARREN_SYS_ERROR("inotify_add_watch " + options_.conf_dir));
  // Re-check once after the watch exists: a rewrite between install() and here is not lost.
  bool dirty = true;
  while (!stop.load()) {
    if (dirty) {
      dirty = false;
      std::string before = last_action_;
      if (auto s = chainPrimary(); !s) last_action_ = "cannot chain: " + s.error().message();
      if (last_action_ != before && !last_action_.starts_with("already"))
        std::fprintf(stderr, "warren-cni: %s\n", last_action_.c_str());
    }
    pollfd p{fd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (n < 0 && errno != EINTR) return fail(WARREN_SYS_ERROR("poll inotify"));
    if (n <= 0) continue;
    alignas(inotify_event) char buf[4096];
    for (;;) {
      ssize_t r = ::read(fd.get(), buf, sizeof(buf));
      if (r <= 0) break;
      for (char* ptr = buf; ptr < buf + r;) {
        auto* ev = reinterpret_cast<inotify_event*>(ptr);
        std::string name = ev->len ? ev->name : "";
        // Our own temporary files come and go with every write; they never decide anything.
        if (!name.starts_with(".")) dirty = true;
        ptr += sizeof(inotify_event) + ev->len;
      }
    }
  }
  return ok();
}

Status CniInstaller::uninstall() {
  Status first = ok();
  for (const auto& name : configNames(options_.conf_dir)) {
    if (name.starts_with(".") || !hasCniConfigExtension(name)) continue;
    std::string path = options_.conf_dir + "/" + name;
    auto config = readConfig(path);
    if (!config) continue;  // not ours to judge
    json clean = unchainedConfig(*config);
    if (clean == *config) continue;
    if (auto s = writeAtomic(path, clean.dump(2) + "\n", 0644); !s && first) first = s;
  }
  std::string bin = options_.bin_dir + "/" + kPluginType;
  if (::unlink(bin.c_str()) != 0 && errno != ENOENT && first)
    first = fail(WARREN_SYS_ERROR("remove " + bin));
  return first;
}

Status CniInstaller::status() const {
  std::string bin = options_.bin_dir + "/" + kPluginType;
  if (::access(bin.c_str(), X_OK) != 0) return fail(WARREN_SYS_ERROR(bin + " is not installed"));
  auto path = primaryPath();
  if (!path) return fail(path.error());
  auto config = readConfig(*path);
  if (!config) return fail(config.error());
  if (!isChained(*config, options_.run_dir))
    return fail(
        Error::notFound(*path + " does not chain warren-cni with runDir " + options_.run_dir));
  return ok();
}

}  // namespace warren::cni
