// Typed views of the core kinds both the lab and the agent read: Namespace, ServiceAccount,
// Pod, Deployment, Service. Only the fields Warren uses are decoded; everything else stays in
// Object::node. Decoders validate what they read and name the offending field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/k8s/object.h"

namespace warren::k8s {

struct ContainerPort {
  std::string name;
  uint16_t container_port = 0;
  std::string protocol = "TCP";
};

struct VolumeMount {
  std::string name;        // a volume of the pod
  std::string mount_path;  // absolute path in the container
  bool read_only = false;
};

struct Container {
  std::string name;
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<ContainerPort> ports;
  std::vector<VolumeMount> volume_mounts;
};

// A pod volume; only hostPath is decoded (other sources keep host_path empty).
struct Volume {
  std::string name;
  std::string host_path;
  std::string host_path_type;  // "", Directory, DirectoryOrCreate, ...
};

struct PodSpec {
  std::string node_name;
  std::string service_account_name = "default";
  bool host_network = false;
  std::vector<Container> containers;
  std::vector<Volume> volumes;
};

struct PodStatus {
  std::string phase;  // Pending, Running, Succeeded, Failed
  std::string pod_ip;
  std::string host_ip;
};

struct Pod {
  ObjectMeta meta;
  PodSpec spec;
  PodStatus status;
};

struct Deployment {
  ObjectMeta meta;
  int32_t replicas = 1;
  Labels selector;  // spec.selector.matchLabels
  ObjectMeta template_meta;
  PodSpec template_spec;
};

// A Service port's targetPort: a number, or the name of a container port.
struct IntOrString {
  std::optional<uint16_t> number;
  std::string name;
  bool empty() const { return !number && name.empty(); }
};

struct ServicePort {
  std::string name;
  std::string protocol = "TCP";
  uint16_t port = 0;
  IntOrString target_port;  // defaults to port when omitted
  std::string app_protocol;
};

struct Service {
  ObjectMeta meta;
  std::string type = "ClusterIP";
  std::string cluster_ip;  // "" = to be allocated, "None" = headless
  Labels selector;
  std::vector<ServicePort> ports;
};

struct Namespace {
  ObjectMeta meta;
};

struct ServiceAccount {
  ObjectMeta meta;
};

Result<PodSpec> decodePodSpec(const Object& obj, const Fields& spec);
Result<Pod> decodePod(const Object& obj);
Result<Deployment> decodeDeployment(const Object& obj);
Result<Service> decodeService(const Object& obj);
Result<Namespace> decodeNamespace(const Object& obj);
Result<ServiceAccount> decodeServiceAccount(const Object& obj);

// Does `labels` satisfy every key=value of `selector`? (An empty selector selects nothing,
// as for Services.)
bool selectorMatches(const Labels& selector, const Labels& labels);

}  // namespace warren::k8s
