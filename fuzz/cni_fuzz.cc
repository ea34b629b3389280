// fuzz-link: warren_agent_lib
//
// CNI input, both hops (agent/cni):
//
//   byte 0 = 0: warren-cni as the container runtime runs it. The rest is split at NUL bytes
//               into CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH
//               (fewer fields: those variables are unset) and the network config on stdin
//               (everything after the sixth NUL). parseCniInvocation, then what the plugin
//               prints (cniResultJson / cniErrorJson) and the line it sends the agent.
//   byte 0 = 1: the rest is a line on the agent's cni.sock, through parseAgentRequest and
//               the answer line the CNI server writes back.
//
// Invariants: no crash, no sanitizer report, no exception (nlohmann's dump() throws on
// invalid UTF-8); a failure has a CNI error code and a message; everything printed or sent
// is a JSON object; the agent request the plugin sends parses back in the agent with the same
// fields; an ADD the agent accepts names the pod and its netns.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cni/cni_invocation.h"
#include "fuzz/invariant.h"

namespace {

using namespace warren;
using nlohmann::json;

void check(bool ok, const char* what) { fuzz::invariant(ok, "cni_fuzz", what); }

bool isObject(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return !j.is_discarded() && j.is_object();
}

void pluginSide(std::string_view in) {
  static const char* kVars[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
                                "CNI_IFNAME",  "CNI_ARGS",        "CNI_PATH"};
  std::map<std::string, std::string> env;
  size_t i = 0;
  for (const char* var : kVars) {
    if (i > in.size()) break;
    size_t end = in.find('\0', i);
    if (end == std::string_view::npos) break;
    env[var] = std::string(in.substr(i, end - i));
    i = end + 1;
  }
  const std::string config(i <= in.size() ? in.substr(i) : std::string_view());
  auto inv = cni::parseCniInvocation(env, config);
  if (!inv) {
    check(inv.error().code > 0 && !inv.error().msg.empty(), "a failure without code or message");
    check(isObject(cni::cniErrorJson(inv.error(), "")), "the CNI error is not a JSON object");
    return;
  }
  if (inv->command == cni::CniCommand::kVersion) {
    check(isObject(cni::cniVersionJson()), "VERSION output is not a JSON object");
    return;
  }
  check(isObject(cni::cniResultJson(*inv)), "the CNI result is not a JSON object");
  auto req = cni::parseAgentRequest(cni::agentRequestJson(*inv));
  check(req.has_value(), "the agent refuses what the plugin sends");
  check(req->pod_namespace == inv->pod_namespace && req->pod_name == inv->pod_name &&
            req->pod_uid == inv->pod_uid && req->netns == inv->netns &&
            req->container_id == inv->container_id && req->pod_ips == inv->pod_ips,
        "the agent request does not round-trip");
}

void agentSide(std::string_view in) {
  auto req = cni::parseAgentRequest(std::string(in));
  if (req && req->command == "ADD")
    check(!req->pod_namespace.empty() && !req->pod_name.empty() && !req->netns.empty(),
          "an ADD without pod or netns");
  Status handled = req ? ok() : fail(req.error());
  check(isObject(cni::agentAnswerJson(handled)), "the answer line is not a JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    agentSide(rest);
  else
    pluginSide(rest);
  return 0;
}
