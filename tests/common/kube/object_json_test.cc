// k8s::Object <-> JSON for the Kubernetes API: quoted scalars stay strings ("True", "80" in a
// label), plain ones become numbers and booleans; metadata comes from `meta`; the API paths.
#include <gtest/gtest.h>

#include "common/k8s/object.h"
#include "common/kube/kube_api_store.h"
#include "common/kube/object_store.h"

namespace warren::kube {
namespace {

using nlohmann::json;

TEST(ObjectJson, RoundTripKeepsTypes) {
  json doc = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", {{"name", "s"}, {"namespace", "n"}, {"labels", {{"version", "2"}}}}},
      {"spec", {{"ports", {{{"port", 80}, {"name", "80"}}}}, {"publishNotReadyAddresses", true}}},
      {"status", {{"conditions", {{{"status", "True"}, {"observedGeneration", 3}}}}}}};
  auto obj = k8s::fromJson(doc, "test");
  ASSERT_TRUE(obj) << obj.error().message();
  EXPECT_EQ(obj->meta.labels.at("version"), "2");
  json back = k8s::toJson(*obj);
  EXPECT_EQ(back["spec"]["ports"][0]["port"], 80);
  EXPECT_EQ(back["spec"]["ports"][0]["name"], "80");
  EXPECT_EQ(back["spec"]["publishNotReadyAddresses"], true);
  EXPECT_EQ(back["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ(back["status"]["conditions"][0]["observedGeneration"], 3);
  EXPECT_EQ(back["metadata"]["labels"]["version"], "2");
  // Plain YAML (a lab manifest): "True" is not a JSON boolean, 5 is a number.
  auto yaml = k8s::parseManifests(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {a: True, b: 5, c: false, d: ~}\n",
      "y");
  ASSERT_TRUE(yaml);
  json y = k8s::toJson(yaml->front());
  EXPECT_EQ(y["spec"]["a"], "True");
  EXPECT_EQ(y["spec"]["b"], 5);
  EXPECT_EQ(y["spec"]["c"], false);
  EXPECT_TRUE(y["spec"]["d"].is_null());
  EXPECT_EQ(y["metadata"]["namespace"], "default");
}

TEST(ObjectJson, ApiPaths) {
  EXPECT_EQ(*KubeApiStore::pathOf("apps/v1", "Deployment", "shop", "wp"),
            "/apis/apps/v1/namespaces/shop/deployments/wp");
  EXPECT_EQ(*KubeApiStore::pathOf("v1", "Namespace", "", "shop"), "/api/v1/namespaces/shop");
  EXPECT_EQ(*KubeApiStore::pathOf("gateway.networking.k8s.io/v1", "HTTPRoute", "a", ""),
            "/apis/gateway.networking.k8s.io/v1/namespaces/a/httproutes");
  EXPECT_EQ(*KubeApiStore::pathOf("coordination.k8s.io/v1", "Lease", "warren-system", "x"),
            "/apis/coordination.k8s.io/v1/namespaces/warren-system/leases/x");
  EXPECT_FALSE(KubeApiStore::pathOf("v1", "Secret", "a", "b"));
}

TEST(ObjectJson, Rfc3339) {
  auto t = parseRfc3339("2026-11-22T10:00:00.250000Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(rfc3339Micro(*t), "2026-11-22T10:00:00.250000Z");
  EXPECT_EQ(rfc3339(*t), "2026-11-22T10:00:00Z");
  EXPECT_TRUE(parseRfc3339("2026-11-22T10:00:00Z"));
  EXPECT_FALSE(parseRfc3339("2026-11-22 10:00:00"));
  EXPECT_FALSE(parseRfc3339("2026-11-22T10:00:00+01:00"));
  // Before the epoch the fraction still counts up from the whole second below.
  auto before = std::chrono::system_clock::from_time_t(0) - std::chrono::microseconds(750000);
  EXPECT_EQ(rfc3339Micro(before), "1969-12-31T23:59:59.250000Z");
}

}  // namespace
}  // namespace warren::kube
