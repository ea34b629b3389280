#include "lab/lab_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace warren::lab {
using nlohmann::json;

Status writeFileAtomic(const std::string& path, const std::string& text) {
  std::filesystem::path p(path);
  std::string tmp = (p.parent_path() / ("." + p.filename().string() + ".tmp")).string();
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return fail(WARREN_SYS_ERROR("create " + tmp));
    f << text;
    f.flush();
    if (!f) return fail(WARREN_SYS_ERROR("write " + tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(WARREN_SYS_ERROR("rename to " + path));
  return ok();
}

Result<std::string> readFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return fail(WARREN_SYS_ERROR("open " + path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<LabState> LabState::load(const std::string& dir) {
  auto text = readFile(pathIn(dir));
  if (!text) return fail(text.error().wrap("no lab in " + dir + " (run warren-lab up)"));
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Error::invalid(pathIn(dir) + ": not valid JSON (run warren-lab down, then up)"));
  LabState s;
  try {
    s.name = j.at("name").get<std::string>();
    s.dir = j.at("dir").get<std::string>();
    s.nodes = j.at("nodes").get<int>();
    s.bin_dir = j.at("binDir").get<std::string>();
    s.cgroup_mount = j.at("cgroupMount").get<std::string>();
    s.ready = j.value("ready", false);
    if (j.contains("agentFlags"))
      s.agent_flags = j.at("agentFlags").get<std::vector<std::string>>();
    s.daemonsets = j.value("daemonsets", "");
    s.runtime = j.value("runtime", "process");
    s.image_tag = j.value("imageTag", "");
    if (j.contains("components")) {
      for (const auto& [node, comps] : j["components"].items())
        for (const auto& [comp, c] : comps.items())
          s.components[node][comp] = ComponentState{
              c.at("pid").get<pid_t>(), c.at("argv").get<std::vector<std::string>>(),
              c.value("daemonset", ""), c.value("pod", ""), c.value("containerId", "")};
    }
  } catch (const json::exception& e) {
    return fail(Error::invalid(pathIn(dir) + ": " + e.what()));
  }
  return s;
}

Status LabState::save() const {
  json comps = json::object();
  for (const auto& [node, cs] : components)
    for (const auto& [comp, c] : cs)
      comps[node][comp] = {{"pid", c.pid},
                           {"argv", c.argv},
                           {"daemonset", c.daemonset},
                           {"pod", c.pod},
                           {"containerId", c.container_id}};
  json j = {{"name", name},
            {"dir", dir},
            {"nodes", nodes},
            {"binDir", bin_dir},
            {"cgroupMount", cgroup_mount},
            {"ready", ready},
            {"agentFlags", agent_flags},
            {"daemonsets", daemonsets},
            {"runtime", runtime},
            {"imageTag", image_tag},
            {"components", comps}};
  return writeFileAtomic(pathIn(dir), j.dump(2) + "\n");
}

}  // namespace warren::lab
