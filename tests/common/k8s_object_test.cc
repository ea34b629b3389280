#include <gtest/gtest.h>

#include "common/k8s/object.h"

namespace warren::k8s {
namespace {

TEST(Manifest, ParsesMultiDocumentWithDefaults) {
  auto objs = parseManifests(R"(
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: {warren.dev/dataplane-mode: ambient}
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, command: [sleep, "1"]}]}
---
)",
                             "x.yaml");
  ASSERT_TRUE(objs) << objs.error().message();
  ASSERT_EQ(objs->size(), 2u);
  EXPECT_EQ((*objs)[0].key(), "Namespace//demo");
  EXPECT_EQ((*objs)[0].meta.labels.at("warren.dev/dataplane-mode"), "ambient");
  EXPECT_EQ((*objs)[1].meta.namespace_, "default");
  EXPECT_EQ((*objs)[1].describe(), "Pod default/a");
}

TEST(Manifest, FlattensLists) {
  auto objs = parseManifests(R"(
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: s1, namespace: n}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: s2, namespace: n}}
)",
                             "l.yaml");
  ASSERT_TRUE(objs) << objs.error().message();
  EXPECT_EQ(objs->size(), 2u);
}

struct BadCase {
  const char* text;
  const char* want;  // substring of the error
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << '"' << c.want << '"'; }

class BadManifest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadManifest, NamesFileObjectAndField) {
  auto objs = parseManifests(GetParam().text, "bad.yaml");
  ASSERT_FALSE(objs);
  EXPECT_NE(objs.error().message().find(GetParam().want), std::string::npos)
      << objs.error().message();
  EXPECT_EQ(objs.error().message().rfind("bad.yaml", 0), 0u) << objs.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadManifest,
    ::testing::Values(
        BadCase{"kind: Pod\nmetadata: {name: a}\n", "document 1: missing apiVersion"},
        BadCase{"apiVersion: v1\nmetadata: {name: a}\n", "missing kind"},
        // Found by k8s_manifest_fuzz: such a kind did not survive toYaml and back.
        BadCase{"apiVersion: v1\nkind: \"A\\x1fB\"\nmetadata: {name: a}\n",
                "kind: 'A\x1f"
                "B' is not a Kubernetes kind"},
        BadCase{"apiVersion: v1\nkind: A\xff\xff"
                "B\nmetadata: {name: a}\n",
                "is not a Kubernetes kind"},
        BadCase{"apiVersion: v1\nkind: 9Pod\nmetadata: {name: a}\n", "kind: '9Pod'"},
        BadCase{"apiVersion: v1\nkind: Pod\n", "Pod: missing metadata"},
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\n", "metadata.name"},
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: [x]}\n",
                "Pod default/a: metadata.labels: expected a map"},
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: a\n", "line "},
        BadCase{"- just\n- a list\n", "expected a map"},
        BadCase{"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\n"
                "metadata: {name: b, namespace: NOPE}\n",
                "Pod NOPE/b: metadata.namespace"}));

TEST(Manifest, ToYamlRoundTrips) {
  auto objs = parseManifests(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n}\nspec: {nodeName: node-1}\n",
      "r.yaml");
  ASSERT_TRUE(objs);
  Object o = (*objs)[0];
  o.meta.labels["app"] = "web";
  auto again = parseManifests(toYaml(o), "again.yaml");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ((*again)[0].meta.labels.at("app"), "web");
  EXPECT_EQ((*again)[0].node["spec"]["nodeName"].as<std::string>(), "node-1");
}

TEST(Manifest, CopiesAndAssignmentsNeverShareTheDocument) {
  auto objs = parseManifests(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\n"
      "metadata: {name: b}\n",
      "c.yaml");
  ASSERT_TRUE(objs);
  Object copy = (*objs)[0];
  copy.node["extra"] = "x";
  EXPECT_FALSE((*objs)[0].node["extra"].IsDefined());
  // Assigning over an object that shares its document with another must not rewrite the other.
  Object shared = std::move(copy);
  Object alias = (*objs)[1];
  alias = (*objs)[0];
  EXPECT_EQ((*objs)[1].node["metadata"]["name"].as<std::string>(), "b");
  EXPECT_EQ(alias.node["metadata"]["name"].as<std::string>(), "a");
  shared = (*objs)[1];
  EXPECT_EQ(shared.node["metadata"]["name"].as<std::string>(), "b");
  EXPECT_EQ((*objs)[0].node["metadata"]["name"].as<std::string>(), "a");
}

}  // namespace
}  // namespace warren::k8s
