#include "common/k8s/core.h"

#include <gtest/gtest.h>

namespace warren::k8s {
namespace {

Object one(const char* text) {
  auto objs = parseManifests(text, "t.yaml");
  EXPECT_TRUE(objs) << objs.error().message();
  return objs->at(0);
}

TEST(Core, DecodesPod) {
  auto pod = decodePod(one(R"(
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec:
  nodeName: node-2
  serviceAccountName: sleep
  containers:
  - name: main
    command: [warren-probe, serve]
    args: ["--port", "8080"]
    ports: [{containerPort: 8080, name: http}]
status: {podIP: 10.244.2.5, phase: Running}
)"));
  ASSERT_TRUE(pod) << pod.error().message();
  EXPECT_EQ(pod->spec.node_name, "node-2");
  EXPECT_EQ(pod->spec.service_account_name, "sleep");
  ASSERT_EQ(pod->spec.containers.size(), 1u);
  EXPECT_EQ(pod->spec.containers[0].args.size(), 2u);
  EXPECT_EQ(pod->spec.containers[0].ports[0].container_port, 8080);
  EXPECT_EQ(pod->status.pod_ip, "10.244.2.5");
}

TEST(Core, DecodesDeploymentAndDefaultsSelector) {
  auto d = decodeDeployment(one(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, command: [sleep, infinity]}]}
)"));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->replicas, 2);
  EXPECT_EQ(d->selector.at("app"), "web");
}

TEST(Core, DecodesServiceWithNamedTargetPort) {
  auto s = decodeService(one(R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: admin, port: 9090, targetPort: 9091}
  - {name: plain, port: 7000}
)"));
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->ports.size(), 3u);
  EXPECT_EQ(s->ports[0].target_port.name, "http");
  EXPECT_EQ(*s->ports[1].target_port.number, 9091);
  EXPECT_EQ(*s->ports[2].target_port.number, 7000);
}

struct BadCase {
  const char* text;
  const char* want;
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << '"' << c.want << '"'; }

class BadCore : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadCore, NamesTheField) {
  Object o = one(GetParam().text);
  Status s = ok();
  if (o.kind == "Pod") {
    auto r = decodePod(o);
    if (!r) s = fail(r.error());
  } else if (o.kind == "Service") {
    auto r = decodeService(o);
    if (!r) s = fail(r.error());
  } else {
    auto r = decodeDeployment(o);
    if (!r) s = fail(r.error());
  }
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find(GetParam().want), std::string::npos) << s.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadCore,
    ::testing::Values(
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "Pod default/a: spec: missing"},
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}\n",
                "spec.containers: at least one"},
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, "
                "ports: [{containerPort: 70000}]}]}\n",
                "spec.containers[0].ports[0].containerPort: 70000 is out of range"},
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, "
                "command: sleep}]}\n",
                "spec.containers[0].command: expected a list"},
        BadCase{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: x}]}\n",
                "Service default/s: spec.ports[0].port: expected an integer"},
        BadCase{"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{name: a, "
                "port: 1}, {port: 2}]}\n",
                "spec.ports[1].name: required"},
        BadCase{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: -1, "
                "template: {spec: {containers: [{name: c}]}}}\n",
                "spec.replicas: -1 is out of range"},
        BadCase{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: "
                "{matchLabels: {app: x}}, template: {metadata: {labels: {app: y}}, spec: "
                "{containers: [{name: c}]}}}\n",
                "spec.selector.matchLabels: does not match"}));

TEST(Core, SelectorSemantics) {
  EXPECT_FALSE(selectorMatches({}, {{"a", "b"}}));
  EXPECT_TRUE(selectorMatches({{"a", "b"}}, {{"a", "b"}, {"c", "d"}}));
  EXPECT_FALSE(selectorMatches({{"a", "b"}}, {{"a", "c"}}));
}

}  // namespace
}  // namespace warren::k8s
