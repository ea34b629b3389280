// The node DaemonSets as the lab reads them: the real deploy/base/node decoded and resolved for
// a lab node (every flag, env var and mount of the contract), and tables of what is refused.
#include "lab/node_pod.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lab/node_daemonset.h"
#include "lab/node_runtime.h"

namespace warren::lab {
namespace {

std::string sourceDir() {
  const char* s = std::getenv("WARREN_SOURCE_DIR");
  return s ? s : WARREN_TEST_SOURCE_DIR;
}

NodeHost hostOf(int node) {
  return labNodeHost("/run/lab", LabNames("lab1", "/sys/fs/cgroup/unified"), node);
}

const ResolvedContainer resolved(const std::vector<NodeDaemonSet>& sets, const std::string& name) {
  for (const auto& ds : sets)
    if (const auto* c = ds.container(name)) {
      auto r = resolveContainer(ds, *c, PodIdentity{ds.name + "-abcde", ds.ns, "u-1"}, hostOf(2));
      EXPECT_TRUE(r) << r.error().message();
      return r ? *r : ResolvedContainer{};
    }
  ADD_FAILURE() << "no container " << name;
  return {};
}

std::string targetSource(const ResolvedContainer& c, const std::string& target) {
  for (const auto& m : c.mounts)
    if (m.target == target) return m.source + (m.read_only ? " (ro)" : "");
  return "";
}

// hostPath of any pod (a waypoint's /var/run/warren/proxy): below a node-private path maps
// into the node's copy, the deepest first; a path merely sharing a prefix is refused.
TEST(NodeHost, PathsBelowAPrivatePathAreTheNodes) {
  NodeHost h = hostOf(1);
  EXPECT_EQ(*h.realPath("/var/run/warren"), "/run/lab/nodes/node-1/run");
  EXPECT_EQ(*h.realPath("/var/run/warren/proxy"), "/run/lab/nodes/node-1/run/proxy");
  EXPECT_EQ(*h.realPath("/sys/fs/bpf/warren/x"), "/sys/fs/bpf/warren/lab1-node-1/x");
  EXPECT_EQ(*h.realPath("/sys/fs/bpf"), "/sys/fs/bpf");
  auto near = h.realPath("/var/run/warrenx");
  ASSERT_FALSE(near);
  EXPECT_NE(near.error().message().find("hostPath /var/run/warrenx is not a path of the lab's"),
            std::string::npos)
      << near.error().message();
  EXPECT_FALSE(h.realPath("/etc/passwd"));
}

TEST(NodeDaemonSets, TheDeployManifestsResolveForALabNode) {
  auto sets = loadNodeDaemonSets(sourceDir() + "/deploy/base/node");
  ASSERT_TRUE(sets) << sets.error().message();
  ASSERT_EQ(sets->size(), 2u);

  auto agent = resolved(*sets, "agent");
  EXPECT_EQ(
      agent.argv,
      (std::vector<std::string>{
          "/usr/local/bin/warren-agent", "--node=node-2", "--node-ip=192.168.100.12",
          "--run-dir=/var/run/warren", "--ca-dir=/etc/warren/ca", "--cgroup=/sys/fs/cgroup",
          "--bpf-pin-dir=/sys/fs/bpf/warren", "--trust-domain=cluster.local", "--log-level=info"}));
  EXPECT_EQ(targetSource(agent, "/var/run/warren"), "/run/lab/nodes/node-2/run");
  EXPECT_EQ(targetSource(agent, "/etc/warren/ca"), "/run/lab/ca (ro)");
  EXPECT_EQ(targetSource(agent, "/sys/fs/cgroup"), "/sys/fs/cgroup/unified/lab1/node-2");
  EXPECT_EQ(targetSource(agent, "/sys/fs/bpf"), "/sys/fs/bpf");
  EXPECT_EQ(targetSource(agent, "/sys/fs/bpf/warren"), "/sys/fs/bpf/warren/lab1-node-2");
  EXPECT_EQ(targetSource(agent, "/var/run/netns"), "/run/netns (ro)");
  // Parents are mounted before children.
  auto bpf = std::find_if(agent.mounts.begin(), agent.mounts.end(),
                          [](const BindMount& m) { return m.target == "/sys/fs/bpf"; });
  auto pins = std::find_if(agent.mounts.begin(), agent.mounts.end(),
                           [](const BindMount& m) { return m.target == "/sys/fs/bpf/warren"; });
  EXPECT_LT(bpf, pins);
  EXPECT_EQ(agent.readiness.kind, Probe::Kind::kExec);
  EXPECT_EQ(agent.readiness.exec.back(), "version");
  EXPECT_EQ(agent.cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_FALSE(agent.privileged);
  std::map<std::string, std::string> env(agent.env.begin(), agent.env.end());
  EXPECT_EQ(env["NODE_NAME"], "node-2");
  EXPECT_EQ(env["INSTANCE_IP"], "192.168.100.12");
  EXPECT_EQ(env["POD_NAME"], "warren-agent-abcde");
  EXPECT_EQ(env["POD_NAMESPACE"], "warren-system");

  auto zt = resolved(*sets, "ztunnel");
  EXPECT_EQ(zt.argv, (std::vector<std::string>{"/usr/local/bin/warren-ztunnel", "--node=node-2",
                                               "--run-dir=/var/run/warren", "--drain-seconds=10",
                                               "--log-level=info"}));
  EXPECT_EQ(zt.readiness.kind, Probe::Kind::kHttpGet);
  EXPECT_EQ(zt.readiness.port, 15021);
  EXPECT_EQ(zt.readiness.path, "/healthz/ready");

  auto cni = resolved(*sets, "install-cni");
  EXPECT_EQ(targetSource(cni, "/etc/cni/net.d"), "/run/lab/nodes/node-2/cni/net.d");
  EXPECT_EQ(targetSource(cni, "/opt/cni/bin"), "/run/lab/nodes/node-2/cni/bin");
  EXPECT_EQ(targetSource(cni, "/var/run/warren"), "");  // not mounted: masked by the runtime

  for (const auto& ds : *sets) {
    if (ds.name == "warren-ztunnel") {
      EXPECT_EQ(ds.max_surge, 1);  // a new ztunnel starts beside the old one
      EXPECT_EQ(ds.max_unavailable, 0);
    } else {
      EXPECT_EQ(ds.max_surge, 0);  // the agent is a per-node singleton
    }
  }
}

TEST(NodeDaemonSets, PodmanArgumentsCarryExactlyTheManifestsCapabilities) {
  auto sets = loadNodeDaemonSets(sourceDir() + "/deploy/base/node");
  ASSERT_TRUE(sets) << sets.error().message();
  auto zt = resolved(*sets, "ztunnel");
  ContainerPlacement p;
  p.netns_path = "/run/netns/lab1-node-2";
  p.container_name = "lab1-node-2-zt";
  p.image = "localhost/warren-node:git-abc";
  auto args = podmanRunArgs(zt, p);
  std::vector<std::string> caps;
  for (const auto& a : args)
    if (a.starts_with("--cap-")) caps.push_back(a);
  EXPECT_EQ(caps, (std::vector<std::string>{"--cap-drop=ALL", "--cap-add=NET_ADMIN",
                                            "--cap-add=SYS_ADMIN", "--cap-add=BPF"}));
  auto has = [&](const std::string& a) {
    return std::find(args.begin(), args.end(), a) != args.end();
  };
  EXPECT_TRUE(has("ns:/run/netns/lab1-node-2"));
  EXPECT_TRUE(has("--read-only"));
  EXPECT_TRUE(has("--security-opt=no-new-privileges"));
  EXPECT_TRUE(has("--user=0"));
  EXPECT_TRUE(has("--volume=/run/lab/nodes/node-2/run:/var/run/warren:rslave"));
  EXPECT_TRUE(has("--entrypoint=/usr/local/bin/warren-ztunnel"));
  EXPECT_FALSE(has("--privileged"));
  auto image = std::find(args.begin(), args.end(), "localhost/warren-node:git-abc");
  ASSERT_NE(image, args.end());
  EXPECT_EQ(std::vector<std::string>(image + 1, args.end()),
            (std::vector<std::string>{"--node=node-2", "--run-dir=/var/run/warren",
                                      "--drain-seconds=10", "--log-level=info"}));
}

TEST(NodeDaemonSets, VariableExpansion) {
  std::vector<std::pair<std::string, std::string>> env = {{"A", "1"}, {"B", "two"}, {"A", "3"}};
  struct Row {
    const char* in;
    const char* out;  // nullptr: refused
  };
  const std::vector<Row> rows = {
      {"--x=$(B)", "--x=two"},
      {"$(A)$(B)", "3two"},
      {"$$(A)", "$(A)"},
      {"no vars", "no vars"},
      {"$(unclosed", "$(unclosed"},
      {"$A", "$A"},
      {"--x=$(MISSING)", nullptr},
      {"$()", nullptr},
  };
  for (const auto& r : rows) {
    auto v = expandVars(r.in, env, "args[0]");
    if (r.out) {
      ASSERT_TRUE(v) << r.in << ": " << v.error().message();
      EXPECT_EQ(*v, r.out) << r.in;
    } else {
      ASSERT_FALSE(v) << r.in;
      EXPECT_NE(v.error().message().find("args[0] refers to $("), std::string::npos);
    }
  }
}

// A DaemonSet with one field changed, decoded: refused with the field named.
TEST(NodeDaemonSets, RefusedManifestsNameTheField) {
  const std::string base = R"(apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: ns}
spec:
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: SURGE, maxUnavailable: 0}}
  template:
    spec:
      hostNetwork: HOSTNET
      containers:
        - name: c
          image: img
          command: [/bin/c]
          volumeMounts: [{name: MOUNT, mountPath: /m}]
          readinessProbe: PROBE
          securityContext: {capabilities: {add: [CAP]}}
      volumes: [{name: v, hostPath: {path: /var/run/warren}}]
)";
  auto make = [&](std::map<std::string, std::string> subs) {
    std::map<std::string, std::string> d = {{"SURGE", "1"},
                                            {"HOSTNET", "true"},
                                            {"MOUNT", "v"},
                                            {"PROBE", "{exec: {command: [x]}}"},
                                            {"CAP", "BPF"}};
    for (auto& [k, v] : subs) d[k] = v;
    std::string text = base;
    for (const auto& [k, v] : d) text.replace(text.find(k), k.size(), v);
    return text;
  };
  auto decode = [](const std::string& text) {
    auto objs = k8s::parseManifests(text, "ds.yaml");
    EXPECT_TRUE(objs);
    return decodeNodeDaemonSets(*objs);
  };
  ASSERT_TRUE(decode(make({}))) << decode(make({})).error().message();
  struct Row {
    std::map<std::string, std::string> subs;
    const char* error;
  };
  const std::vector<Row> rows = {
      {{{"SURGE", "0"}}, "maxSurge and maxUnavailable cannot both be 0"},
      {{{"SURGE", "\"25%\""}}, "spec.updateStrategy.rollingUpdate.maxSurge: must be a number"},
      {{{"HOSTNET", "false"}}, "spec.template.spec.hostNetwork: must be true"},
      {{{"MOUNT", "nope"}}, "volumeMounts[0].name: no volume named 'nope'"},
      {{{"PROBE", "{tcpSocket: {port: 1}}"}}, "only exec and httpGet probes"},
      {{{"PROBE", "{httpGet: {port: ready}}"}}, "must be a port number"},
      {{{"CAP", "CAP_BPF"}}, "'CAP_BPF' is not a capability name like NET_ADMIN"},
  };
  for (const auto& r : rows) {
    auto d = decode(make(r.subs));
    ASSERT_FALSE(d) << r.error;
    EXPECT_NE(d.error().message().find(r.error), std::string::npos) << d.error().message();
    EXPECT_NE(d.error().message().find("ds.yaml: DaemonSet ns/ds"), std::string::npos)
        << d.error().message();
  }
}

TEST(NodeDaemonSets, ResolutionRefusesWhatTheLabCannotProvide) {
  const std::string tmpl = R"Y(apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: ns}
spec:
  template:
    spec:
      hostNetwork: true
      containers:
        - name: c
          image: img
          command: [/bin/c, "$(NODE)"]
          env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: FIELD}}}]
          volumeMounts: [{name: v, mountPath: /m}]
      volumes: [VOLUME]
)Y";
  struct Row {
    const char* field;
    const char* volume;
    const char* error;  // nullptr: resolves
  };
  const std::vector<Row> rows = {
      {"spec.nodeName", "{name: v, hostPath: {path: /opt/cni/bin}}", nullptr},
      {"status.hostIP", "{name: v, secret: {secretName: warren-ca}}", nullptr},
      {"spec.nodeName", "{name: v, hostPath: {path: /etc/kubernetes}}",
       "volumeMounts[0] (v): hostPath /etc/kubernetes is not a path of the lab's nodes"},
      {"spec.nodeName", "{name: v, secret: {secretName: other}}",
       "Secret other does not exist in the lab"},
      {"spec.nodeName", "{name: v, emptyDir: {}}", "emptyDir volumes are not supported"},
      {"metadata.labels", "{name: v, emptyDir: {}}",
       "env[0] (NODE): fieldPath 'metadata.labels' is not a downward API field"},
  };
  for (const auto& r : rows) {
    std::string text = tmpl;
    text.replace(text.find("FIELD"), 5, r.field);
    text.replace(text.find("VOLUME"), 6, r.volume);
    auto o = k8s::parseManifests(text, "ds.yaml");
    ASSERT_TRUE(o) << text;
    auto sets = decodeNodeDaemonSets(*o);
    ASSERT_TRUE(sets) << sets.error().message();
    const auto& ds = (*sets)[0];
    auto c = resolveContainer(ds, ds.containers[0], PodIdentity{"p", "ns", "u"}, hostOf(1));
    if (!r.error) {
      ASSERT_TRUE(c) << c.error().message();
      continue;
    }
    ASSERT_FALSE(c) << r.volume;
    EXPECT_NE(c.error().message().find(r.error), std::string::npos) << c.error().message();
    EXPECT_NE(c.error().message().find("ds.yaml: DaemonSet ns/ds: container c"), std::string::npos)
        << c.error().message();
  }
}

}  // namespace
}  // namespace warren::lab

namespace warren::lab {
namespace {

// A kubelet pod's env: the lab's conveniences, then the container's env with the downward API
// (what warren-echo's POD_NAME / NAMESPACE come from), $(VAR) expanded, refusals named.
TEST(PodContainerEnv, DownwardApiAndLiterals) {
  const DownwardFields pod{
      "echo-v1-0",     "gateway-conformance-mesh", "uid-7", "node-2", "echo", "10.244.2.5",
      "192.168.100.12"};
  auto container = YAML::Load(R"yaml(
name: echo
env:
- {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
- {name: NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
- {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
- {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
- {name: HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
- {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
- {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
- {name: SERVICE_NAME, value: echo-v1}
- {name: WHO, value: "$(POD_NAME)@$(NAMESPACE)"}
)yaml");
  auto env = podContainerEnv(pod, container);
  ASSERT_TRUE(env) << env.error().message();
  std::vector<std::pair<std::string, std::string>> want = {
      {"POD_NAME", "echo-v1-0"},
      {"POD_NAMESPACE", "gateway-conformance-mesh"},
      {"POD_IP", "10.244.2.5"},
      {"NODE_NAME", "node-2"},
      {"HOST_IP", "192.168.100.12"},
      {"POD_NAME", "echo-v1-0"},
      {"NAMESPACE", "gateway-conformance-mesh"},
      {"SA", "echo"},
      {"MY_IP", "10.244.2.5"},
      {"HOST", "192.168.100.12"},
      {"NODE", "node-2"},
      {"UID", "uid-7"},
      {"SERVICE_NAME", "echo-v1"},
      {"WHO", "echo-v1-0@gateway-conformance-mesh"},
  };
  EXPECT_EQ(*env, want);
  // No env: the conveniences alone.
  auto bare = podContainerEnv(pod, YAML::Load("{name: c}"));
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->size(), 5u);
}

TEST(PodContainerEnv, RefusalsNameTheVariable) {
  const DownwardFields pod{"p", "ns", "u", "node-1", "default", "10.244.1.2", "192.168.100.11"};
  const std::pair<std::string, std::string> rows[] = {
      {"{env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.labels}}}]}",
       "env[0] (A): fieldPath 'metadata.labels' is not a downward API field the lab fills"},
      {"{env: [{name: X, value: '1'}, {name: T, valueFrom: {secretKeyRef: {name: s, key: k}}}]}",
       "env[1] (T): only valueFrom.fieldRef (the downward API) is supported by the lab"},
      {"{env: [{name: B, value: '$(NOPE)'}]}", "env[0] (B) refers to $(NOPE)"},
  };
  for (const auto& [yaml, want] : rows) {
    auto env = podContainerEnv(pod, YAML::Load(yaml));
    ASSERT_FALSE(env) << yaml;
    EXPECT_NE(env.error().message().find(want), std::string::npos) << env.error().message();
  }
}

}  // namespace
}  // namespace warren::lab
