// warren-cni's input handling, pure (table-tested in tests/agent/cni_invocation_test.cc):
// the CNI 1.0 environment + stdin config in, a validated request out; and the JSON the plugin
// prints (prevResult passed through on ADD, the CNI error object on failure). Everything is
// validated before the agent is contacted, so malformed input never half-applies anything.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::cni {

// CNI spec error codes we use.
inline constexpr int kCniErrIncompatibleVersion = 1;
inline constexpr int kCniErrUnsupportedField = 2;
inline constexpr int kCniErrInvalidEnv = 4;
inline constexpr int kCniErrDecode = 6;
inline constexpr int kCniErrInvalidConfig = 7;
inline constexpr int kCniErrTryAgainLater = 11;

inline constexpr const char* kCniVersion = "1.0.0";

enum class CniCommand { kAdd, kDel, kCheck, kVersion };

struct CniInvocation {
  CniCommand command = CniCommand::kVersion;
  std::string cni_version;                       // from the config
  std::string run_dir;                           // "runDir" in the config: where cni.sock is
  std::string container_id;                      // CNI_CONTAINERID
  std::string netns;                             // CNI_NETNS
  std::string ifname;                            // CNI_IFNAME
  std::string pod_namespace, pod_name, pod_uid;  // from CNI_ARGS (K8S_POD_*)
  std::vector<std::string> pod_ips;              // from prevResult.ips[].address, prefix stripped
  std::string prev_result;                       // prevResult, re-serialised ("" when absent)
};

// A failure with its CNI error code.
struct CniFailure {
  int code;
  std::string msg;
  std::string details;
};

// `env` holds CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH.
std::expected<CniInvocation, CniFailure> parseCniInvocation(
    const std::map<std::string, std::string>& env, const std::string& stdin_config);

// {"cniVersion", "code", "msg", "details"}.
std::string cniErrorJson(const CniFailure& failure, const std::string& cni_version);

// What ADD/CHECK print: prevResult unchanged except cniVersion set to the config's.
std::string cniResultJson(const CniInvocation& inv);

std::string cniVersionJson();

// Plugin <-> agent request over <runDir>/cni.sock (one JSON line each way).
std::string agentRequestJson(const CniInvocation& inv);
struct AgentCniRequest {
  std::string command;  // "ADD" | "DEL" | "CHECK"
  std::string pod_namespace, pod_name, pod_uid, netns, container_id;
  std::vector<std::string> pod_ips;
};
Result<AgentCniRequest> parseAgentRequest(const std::string& line);
// The agent's answer line (without the newline): {} when `handled` is ok, else
// {"error": "<message>"}.
std::string agentAnswerJson(const Status& handled);

}  // namespace warren::cni
