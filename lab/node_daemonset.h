// The node components as deploy/ declares them: the DaemonSets of deploy/base/node, decoded
// into what the lab needs to run their pods on a lab node (containers with command, args,
// env, mounts, readiness probe and capabilities; volumes; the update strategy). The lab runs
// exactly this, so a manifest that does not work fails the lab's tests. Decoding is pure and
// every error names the file, the object and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/k8s/object.h"

namespace warren::lab {

struct EnvVar {
  std::string name;
  std::string value;       // literal value, when field_path is empty
  std::string field_path;  // valueFrom.fieldRef.fieldPath (downward API)
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
  bool read_only = false;
};

struct Probe {
  enum class Kind { kNone, kExec, kHttpGet };
  Kind kind = Kind::kNone;
  std::vector<std::string> exec;  // exec.command
  int port = 0;                   // httpGet.port (a number: hostNetwork pods declare no ports)
  std::string path = "/";         // httpGet.path
  int period_seconds = 10;
  int timeout_seconds = 1;
};

struct ContainerSpec {
  std::string name;
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::vector<VolumeMount> mounts;
  Probe readiness;
  std::vector<std::string> cap_add;  // securityContext.capabilities.add, as written (NET_ADMIN)
  std::vector<std::string> cap_drop;
  bool privileged = false;
  bool allow_privilege_escalation = true;
  bool read_only_root = false;
  std::optional<int64_t> run_as_user;
};

struct Volume {
  enum class Kind { kHostPath, kSecret, kEmptyDir };
  std::string name;
  Kind kind = Kind::kEmptyDir;
  std::string host_path;       // hostPath.path
  std::string host_path_type;  // hostPath.type ("" | Directory | DirectoryOrCreate | ...)
  std::string secret_name;     // secret.secretName
};

struct NodeDaemonSet {
  std::string ns, name;
  std::string source;  // file, for messages
  int max_surge = 0;
  int max_unavailable = 1;
  int min_ready_seconds = 0;
  int grace_seconds = 30;  // terminationGracePeriodSeconds
  bool host_network = false;
  std::string service_account;
  std::vector<ContainerSpec> init_containers;
  std::vector<ContainerSpec> containers;
  std::vector<Volume> volumes;

  const ContainerSpec* container(const std::string& name) const;
  const Volume* volume(const std::string& name) const;
};

// Every DaemonSet among `objects` (other kinds are ignored). Refuses what the lab cannot run
// faithfully (pods off the host network, OnDelete updates, percentages) with an error naming
// the field. Pure.
Result<std::vector<NodeDaemonSet>> decodeNodeDaemonSets(const std::vector<k8s::Object>& objects);

// Reads a manifest file or every *.yaml/*.yml of a directory, then decodes. At least one
// DaemonSet must be there.
Result<std::vector<NodeDaemonSet>> loadNodeDaemonSets(const std::string& path);

// Where the lab finds them by default: <source>/deploy/base/node (compiled in), unless
// $WARREN_LAB_DAEMONSETS says otherwise.
std::string defaultDaemonSetPath();

}  // namespace warren::lab
