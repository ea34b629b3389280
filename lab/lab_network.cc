#include "lab/lab_network.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/netns.h"
#include "lab/process.h"

namespace warren::lab {
namespace fs = std::filesystem;

Status LabNetwork::addNetns(const std::string& netns) {
  return runChecked({"ip", "netns", "add", netns});
}

Status LabNetwork::deleteNetns(const std::string& netns) {
  if (!netnsExists(netns)) return ok();
  return runChecked({"ip", "netns", "delete", netns});
}

bool LabNetwork::netnsExists(const std::string& netns) {
  struct stat st {};
  return ::stat(LabNames::netnsPath(netns).c_str(), &st) == 0;
}

std::vector<std::string> LabNetwork::scanNetns() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it("/run/netns", ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (names_.classifyNetns(n)) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status setNetnsSysctl(const std::string& netns_path, const std::string& key, int value) {
  auto guard = NetnsGuard::enter(netns_path);
  if (!guard) return fail(guard.error());
  std::string path = "/proc/sys/" + key;
  std::replace(path.begin() + 10, path.end(), '.', '/');
  return writeNetSysctl(path.c_str(), value);
}

Status LabNetwork::create(int nodes) const {
  const std::string ul = names_.underlayNetns();
  WARREN_TRY(addNetns(ul));
  WARREN_TRY(runChecked({"ip", "-n", ul, "link", "set", "lo", "up"}));
  WARREN_TRY(
      runChecked({"ip", "-n", ul, "link", "add", LabNames::underlayBridge(), "type", "bridge"}));
  WARREN_TRY(runChecked({"ip", "-n", ul, "link", "set", LabNames::underlayBridge(), "up"}));
  for (int i = 1; i <= nodes; ++i) {
    auto s = createNode(i, nodes);
    if (!s) return fail(s.error().wrap("node-" + std::to_string(i)));
  }
  return ok();
}

Status LabNetwork::createNode(int node, int nodes) const {
  const std::string ul = names_.underlayNetns();
  const std::string nn = names_.nodeNetns(node);
  const std::string port = LabNames::underlayPort(node);
  WARREN_TRY(addNetns(nn));
  // The veth is created inside the underlay netns with its peer placed straight into the node
  // netns, so no interface ever appears in the root netns.
  WARREN_TRY(runChecked({"ip", "-n", ul, "link", "add", port, "type", "veth", "peer", "name",
                         LabNames::nodeUplink(), "netns", nn}));
  WARREN_TRY(runChecked(
      {"ip", "-n", ul, "link", "set", port, "master", LabNames::underlayBridge(), "up"}));
  WARREN_TRY(runChecked({"ip", "-n", nn, "link", "set", "lo", "up"}));
  WARREN_TRY(runChecked({"ip", "-n", nn, "addr", "add", LabNames::nodeIp(node) + "/24", "dev",
                         LabNames::nodeUplink()}));
  WARREN_TRY(runChecked({"ip", "-n", nn, "link", "set", LabNames::nodeUplink(), "up"}));
  for (int j = 1; j <= nodes; ++j) {
    if (j == node) continue;
    WARREN_TRY(runChecked({"ip", "-n", nn, "route", "add", LabNames::podCidr(j), "via",
                           LabNames::nodeIp(j), "dev", LabNames::nodeUplink()}));
  }
  WARREN_TRY(setNetnsSysctl(LabNames::netnsPath(nn), "net.ipv4.ip_forward", 1));
  return ok();
}

}  // namespace warren::lab
