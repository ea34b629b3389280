#include "agent/cli/agent_options.h"

#include <map>

namespace warren::agent {
namespace {

// Boolean flags: "--flag" alone means true; "--flag=true|false" is also accepted (never a
// separate value word, so a boolean flag cannot swallow the next flag).
const std::vector<std::string> kBoolFlags = {"sockmap-fast-path", "controller", "controller-only"};

bool isBoolFlag(const std::string& name) {
  for (const auto& b : kBoolFlags)
    if (b == name) return true;
  return false;
}

// Splits "--flag=value" / "--flag value" pairs into a map; rejects unknown and repeated flags.
Result<std::map<std::string, std::string>> collectFlags(const std::vector<std::string>& args,
                                                        size_t first,
                                                        const std::vector<std::string>& known,
                                                        bool& help) {
  std::map<std::string, std::string> out;
  for (size_t i = first; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) return fail(Error::invalid("unexpected argument '" + a + "'"));
    std::string name = a.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      if (isBoolFlag(name) && value != "true" && value != "false")
        return fail(Error::invalid("flag --" + name + " takes true or false, not '" + value + "'"));
    } else if (isBoolFlag(name)) {
      value = "true";
    } else {
      if (i + 1 >= args.size()) return fail(Error::invalid("flag --" + name + " needs a value"));
      value = args[++i];
    }
    bool is_known = false;
    for (const auto& k : known) is_known |= k == name;
    if (!is_known) return fail(Error::invalid("unknown flag --" + name));
    if (out.count(name)) return fail(Error::invalid("flag --" + name + " given twice"));
    if (value.empty()) return fail(Error::invalid("flag --" + name + " has an empty value"));
    out[name] = value;
  }
  return out;
}

}  // namespace

std::string agentUsage() {
  return "usage: warren-agent --node NAME [--node-ip IP] [--run-dir DIR] [--manifests DIR]\n"
         "                    [--ca-dir DIR] [--cgroup PATH] [--bpf-pin-dir DIR]\n"
         "                    [--pod-cidr CIDR] [--trust-domain TD] [--log-level LEVEL]\n"
         "                    [--sockmap-fast-path]\n"
         "                    [--ztunnel-admin HOST:PORT (default 127.0.0.1:15000)]\n"
         "                    [--controller | --controller-only] [--controller-id ID]\n"
         "                    [--lease-namespace NS (default warren-system)]\n"
         "                    [--waypoint-image IMAGE (default warren-waypoint:latest)]\n"
         "       warren-agent uninstall [--bpf-pin-dir DIR] [--cgroup PATH] [--run-dir DIR]\n"
         "Without --manifests the agent reads the Kubernetes API (in-cluster service account,\n"
         "else $KUBECONFIG). --sockmap-fast-path (off by default) hands TCP data between two\n"
         "sockets of this node (loopback pairs, pod pairs inside --pod-cidr) straight from\n"
         "socket to socket with sk_msg (see bpf/README.md).\n"
         "--controller also runs the waypoint controller (Gateways of class warren-waypoint\n"
         "become a Deployment, Service and ServiceAccount; Gateway and route status), leader-\n"
         "elected through the Lease <lease-namespace>/warren-waypoint-controller; with\n"
         "--controller-only the agent runs nothing else (no --node needed).\n";
}

Result<AgentCommand> parseAgentArgs(const std::vector<std::string>& args) {
  bool help = false;
  if (!args.empty() && args[0] == "uninstall") {
    auto flags = collectFlags(args, 1, {"bpf-pin-dir", "cgroup", "run-dir", "log-level"}, help);
    if (!flags) return fail(flags.error());
    if (help) return HelpRequested{agentUsage()};
    UninstallOptions u;
    if (flags->count("bpf-pin-dir")) u.bpf_pin_dir = flags->at("bpf-pin-dir");
    if (flags->count("cgroup")) u.cgroup = flags->at("cgroup");
    if (flags->count("run-dir")) u.run_dir = flags->at("run-dir");
    if (flags->count("log-level")) u.log_level = flags->at("log-level");
    return u;
  }
  auto flags = collectFlags(
      args, 0,
      {"node", "node-ip", "run-dir", "manifests", "ca-dir", "cgroup", "bpf-pin-dir", "pod-cidr",
       "trust-domain", "log-level", "sockmap-fast-path", "ztunnel-admin", "controller",
       "controller-only", "controller-id", "lease-namespace", "waypoint-image"},
      help);
  if (!flags) return fail(flags.error());
  if (help) return HelpRequested{agentUsage()};
  AgentOptions o;
  auto take = [&](const char* name, std::string& field) {
    if (auto it = flags->find(name); it != flags->end()) field = it->second;
  };
  take("node", o.node);
  take("node-ip", o.node_ip);
  take("run-dir", o.run_dir);
  take("manifests", o.manifests);
  take("ca-dir", o.ca_dir);
  take("cgroup", o.cgroup);
  take("bpf-pin-dir", o.bpf_pin_dir);
  take("pod-cidr", o.pod_cidr);
  take("trust-domain", o.trust_domain);
  take("log-level", o.log_level);
  if (auto it = flags->find("sockmap-fast-path"); it != flags->end())
    o.sockmap_fast_path = it->second == "true";
  take("ztunnel-admin", o.ztunnel_admin);
  auto flag = [&](const char* name) {
    auto it = flags->find(name);
    return it != flags->end() && it->second == "true";
  };
  o.controller_only = flag("controller-only");
  o.controller = flag("controller") || o.controller_only;
  take("controller-id", o.controller_id);
  take("lease-namespace", o.lease_namespace);
  take("waypoint-image", o.waypoint_image);
  if (o.node.empty() && !o.controller_only)
    return fail(Error::invalid("--node is required (unless --controller-only)"));
  if (o.bpf_pin_dir.empty() && !o.node.empty()) o.bpf_pin_dir = "/sys/fs/bpf/warren/" + o.node;
  if (o.trust_domain.find('/') != std::string::npos)
    return fail(Error::invalid("--trust-domain '" + o.trust_domain + "' must not contain '/'"));
  return o;
}

}  // namespace warren::agent
