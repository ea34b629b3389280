#include "agent/cni/cni_invocation.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

namespace warren::cni {

namespace {

using json = nlohmann::json;

std::string envOr(const std::map<std::string, std::string>& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

CniFailure failure(int code, std::string msg, std::string details = "") {
  return CniFailure{code, std::move(msg), std::move(details)};
}

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
bool isUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;..."
std::map<std::string, std::string> parseCniArgs(const std::string& args) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= args.size()) {
    size_t end = args.find(';', pos);
    if (end == std::string::npos) end = args.size();
    std::string kv = args.substr(pos, end - pos);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::expected<CniInvocation, CniFailure> parseCniInvocation(
    const std::map<std::string, std::string>& env, const std::string& stdin_config) {
  CniInvocation inv;
  // Everything from the environment goes into JSON (the agent request, error messages):
  // bytes that are not UTF-8 are refused here, naming the variable (found by cni_fuzz:
  // nlohmann's dump() threw and the plugin died instead of answering with a CNI error).
  for (const char* var :
       {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS"}) {
    if (!isUtf8(envOr(env, var)))
      return std::unexpected(failure(kCniErrInvalidEnv, std::string(var) + " is not valid UTF-8"));
  }
  const std::string command = envOr(env, "CNI_COMMAND");
  if (command == "ADD")
    inv.command = CniCommand::kAdd;
  else if (command == "DEL")
    inv.command = CniCommand::kDel;
  else if (command == "CHECK")
    inv.command = CniCommand::kCheck;
  else if (command == "VERSION")
    inv.command = CniCommand::kVersion;
  else if (command.empty())
    return std::unexpected(failure(kCniErrInvalidEnv, "CNI_COMMAND is not set"));
  else
    return std::unexpected(failure(kCniErrInvalidEnv, "unknown CNI_COMMAND '" + command + "'"));
  if (inv.command == CniCommand::kVersion) return inv;

  json config = json::parse(stdin_config, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object())
    return std::unexpected(failure(kCniErrDecode, "network config on stdin is not a JSON object"));
  auto str = [&](const char* key) -> std::string {
    auto it = config.find(key);
    return it != config.end() && it->is_string() ? it->get<std::string>() : "";
  };
  inv.cni_version = str("cniVersion");
  if (inv.cni_version.empty())
    return std::unexpected(failure(kCniErrInvalidConfig, "network config has no cniVersion"));
  if (inv.cni_version != "1.0.0" && inv.cni_version != "0.4.0" && inv.cni_version != "1.1.0")
    return std::unexpected(failure(kCniErrIncompatibleVersion,
                                   "unsupported cniVersion '" + inv.cni_version + "'",
                                   "supported: 0.4.0, 1.0.0, 1.1.0"));
  inv.run_dir = str("runDir");
  if (inv.run_dir.empty() || inv.run_dir[0] != '/')
    return std::unexpected(
        failure(kCniErrInvalidConfig, "warren-cni needs \"runDir\": an absolute path"));

  inv.container_id = envOr(env, "CNI_CONTAINERID");
  inv.netns = envOr(env, "CNI_NETNS");
  inv.ifname = envOr(env, "CNI_IFNAME");
  auto args = parseCniArgs(envOr(env, "CNI_ARGS"));
  inv.pod_namespace = args["K8S_POD_NAMESPACE"];
  inv.pod_name = args["K8S_POD_NAME"];
  inv.pod_uid = args["K8S_POD_UID"];
  if (inv.container_id.empty())
    return std::unexpected(failure(kCniErrInvalidEnv, "CNI_CONTAINERID is not set"));

  if (auto prev = config.find("prevResult"); prev != config.end() && !prev->is_null()) {
    if (!prev->is_object())
      return std::unexpected(failure(kCniErrDecode, "prevResult is not a JSON object"));
    if (auto ips = prev->find("ips"); ips != prev->end()) {
      if (!ips->is_array())
        return std::unexpected(failure(kCniErrDecode, "prevResult.ips is not an array"));
      for (const auto& ip : *ips) {
        auto addr = ip.is_object() ? ip.find("address") : ip.end();
        if (!ip.is_object() || addr == ip.end() || !addr->is_string())
          return std::unexpected(
              failure(kCniErrDecode, "prevResult.ips[] entry without an address string"));
        std::string a = addr->get<std::string>();
        inv.pod_ips.push_back(a.substr(0, a.find('/')));
      }
    }
    inv.prev_result = prev->dump();
  }

  if (inv.command == CniCommand::kAdd || inv.command == CniCommand::kCheck) {
    if (inv.prev_result.empty())
      return std::unexpected(
          failure(kCniErrInvalidConfig,
                  "warren-cni is a chained plugin: no prevResult from the plugin before it"));
    if (inv.netns.empty())
      return std::unexpected(failure(kCniErrInvalidEnv, "CNI_NETNS is not set"));
    if (inv.pod_namespace.empty() || inv.pod_name.empty())
      return std::unexpected(
          failure(kCniErrInvalidEnv, "CNI_ARGS lacks K8S_POD_NAMESPACE / K8S_POD_NAME"));
  }
  return inv;
}

std::string cniErrorJson(const CniFailure& f, const std::string& cni_version) {
  json j{{"cniVersion", cni_version.empty() ? kCniVersion : cni_version},
         {"code", f.code},
         {"msg", f.msg}};
  if (!f.details.empty()) j["details"] = f.details;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string cniResultJson(const CniInvocation& inv) {
  json prev = inv.prev_result.empty() ? json::object() : json::parse(inv.prev_result);
  prev["cniVersion"] = inv.cni_version;
  return prev.dump();
}

std::string cniVersionJson() {
  return json{{"cniVersion", kCniVersion}, {"supportedVersions", {"0.4.0", "1.0.0", "1.1.0"}}}
      .dump();
}

std::string agentRequestJson(const CniInvocation& inv) {
  const char* cmd = inv.command == CniCommand::kAdd   ? "ADD"
                    : inv.command == CniCommand::kDel ? "DEL"
                                                      : "CHECK";
  return json{{"command", cmd},       {"namespace", inv.pod_namespace},
              {"name", inv.pod_name}, {"uid", inv.pod_uid},
              {"netns", inv.netns},   {"containerId", inv.container_id},
              {"ips", inv.pod_ips}}
      .dump();
}

Result<AgentCniRequest> parseAgentRequest(const std::string& line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Error::invalid("CNI request is not a JSON object"));
  AgentCniRequest r;
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
  };
  r.command = str("command");
  if (r.command != "ADD" && r.command != "DEL" && r.command != "CHECK")
    return fail(Error::invalid("CNI request: bad command '" + r.command + "'"));
  r.pod_namespace = str("namespace");
  r.pod_name = str("name");
  r.pod_uid = str("uid");
  r.netns = str("netns");
  r.container_id = str("containerId");
  if (auto ips = j.find("ips"); ips != j.end() && ips->is_array()) {
    for (const auto& ip : *ips)
      if (ip.is_string()) r.pod_ips.push_back(ip.get<std::string>());
  }
  if (r.command == "ADD" && (r.pod_namespace.empty() || r.pod_name.empty() || r.netns.empty()))
    return fail(Error::invalid("CNI ADD request needs namespace, name and netns"));
  return r;
}

std::string agentAnswerJson(const Status& handled) {
  json answer = json::object();
  if (!handled) answer["error"] = handled.error().message();
  // An error may quote bytes from the request (a netns path): never let them throw.
  return answer.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace warren::cni
