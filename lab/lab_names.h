// Every name the lab gives to a kernel object, derived from the lab name alone, so several labs
// can live on one machine without colliding and `down` can find a crashed lab's leftovers by
// scanning for these patterns (no state file needed). Pure functions, table-tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::lab {

// Lab names become part of netns, cgroup and pin names: lowercase alphanumerics and '-',
// starting with a letter, at most 24 characters; the segments "node", "pod" and "ul" are
// reserved so one lab's patterns never match another lab's objects.
Status validateLabName(std::string_view name);

class LabNames {
 public:
  static constexpr int kMaxNodes = 50;

  LabNames(std::string name, std::string cgroup_mount)
      : name_(std::move(name)), cgroup_mount_(std::move(cgroup_mount)) {}

  const std::string& name() const { return name_; }
  const std::string& cgroupMount() const { return cgroup_mount_; }

  // Network namespaces (files under /run/netns).
  std::string underlayNetns() const { return name_ + "-ul"; }
  std::string nodeNetns(int node) const { return name_ + "-node-" + std::to_string(node); }
  std::string podNetns(std::string_view ns, std::string_view pod) const;
  static std::string netnsPath(std::string_view netns) { return "/run/netns/" + std::string(netns); }

  // Which lab object a /run/netns entry is, if it belongs to this lab at all.
  enum class NetnsKind { kUnderlay, kNode, kPod };
  std::optional<NetnsKind> classifyNetns(std::string_view netns) const;

  // Interface names (<= 15 characters). They live inside the lab's own namespaces, so they
  // only need to be unique there: the underlay bridge, the underlay side of node i's link,
  // the node side of it, and the per-node CNI bridge.
  static std::string underlayBridge() { return "br0"; }
  static std::string underlayPort(int node) { return "n" + std::to_string(node); }
  static std::string nodeUplink() { return "eth0"; }
  static std::string cniBridge() { return "cni0"; }

  // Addresses. The underlay subnet exists only inside the lab's namespaces.
  static std::string underlaySubnet() { return "192.168.100.0/24"; }
  static std::string nodeIp(int node) { return "192.168.100." + std::to_string(10 + node); }
  static std::string podCidr(int node) { return "10.244." + std::to_string(node) + ".0/24"; }
  static std::string podGateway(int node) { return "10.244." + std::to_string(node) + ".1"; }
  static std::string nodeName(int node) { return "node-" + std::to_string(node); }
  // "node-3" -> 3; nullopt for anything else.
  static std::optional<int> parseNodeName(std::string_view node);

  // cgroup v2 paths.
  std::string cgroupRoot() const { return cgroup_mount_ + "/" + name_; }
  std::string nodeCgroup(int node) const { return cgroupRoot() + "/node-" + std::to_string(node); }
  std::string podCgroup(int node, std::string_view ns, std::string_view pod) const;
  std::string componentCgroup(int node, std::string_view component) const;

  // BPF pin dir of a node's agent: /sys/fs/bpf/warren/node-<i> for the default lab "wl",
  // /sys/fs/bpf/warren/<name>-node-<i> otherwise.
  static constexpr std::string_view kDefaultName = "wl";
  static constexpr std::string_view kPinBase = "/sys/fs/bpf/warren";
  std::string pinDir(int node) const;
  // Does a directory name under kPinBase belong to this lab?
  bool isOwnPinDir(std::string_view entry) const;

 private:
  std::string name_;
  std::string cgroup_mount_;
};

}  // namespace warren::lab
