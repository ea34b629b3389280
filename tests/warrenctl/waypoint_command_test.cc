// warrenctl waypoint: the generated Gateway (golden), where apply/delete write (table), and
// apply/--enroll-namespace/delete against a real manifest directory, read back as the agent's
// informer would (the agent's own decoder accepts it as a waypoint).
#include "warrenctl/waypoint_command.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/kube/manifest_store.h"
#include "test_support.h"
#include "warrenctl/resource_tables.h"
#include "warrenctl/waypoint_routes.h"

namespace warren::ctl {
namespace {

using testing::fixture;
using testing::golden;

TEST(WaypointCommand, GenerateGolden) {
  WaypointSpec spec;
  spec.namespace_ = "shop";
  spec.traffic_type = "all";
  std::string yaml = waypointGatewayYaml(spec);
  EXPECT_EQ(yaml, golden("waypoint-generate.yaml", yaml));
  // The text and the object agree.
  auto parsed = k8s::parseManifests(yaml, "generated");
  ASSERT_TRUE(parsed);
  auto obj = waypointGateway(spec);
  ASSERT_TRUE(obj);
  EXPECT_EQ(k8s::toJson(parsed->front()), k8s::toJson(*obj));
  for (const auto& bad :
       {WaypointSpec{"Bad_Name", "shop", "service"}, WaypointSpec{"w", "shop", "everything"},
        WaypointSpec{"w", "", "service"}})
    EXPECT_FALSE(validateWaypointSpec(bad)) << bad.name << " " << bad.traffic_type;
}

TEST(WaypointCommand, StatusTableGolden) {
  std::string out = renderWaypointStatus(fixture("waypoints"), "");
  EXPECT_EQ(out, golden("waypoint-status.table", out));
  std::string one = renderWaypointStatus(fixture("waypoints"), "waypoint");
  EXPECT_EQ(one.find("broken"), std::string::npos);
  EXPECT_NE(one.find("Programmed"), std::string::npos);
}

bool exists(const std::string& dir) { return dir == "/lab"; }
bool never(const std::string&) { return false; }

TEST(WaypointCommand, WhereItWrites) {
  auto c = chooseObjectStore(std::string("/m"), std::string("/lab"), std::string("/env"), &exists);
  EXPECT_EQ(c.kind, StoreChoice::Kind::kManifestDir);
  EXPECT_EQ(c.path, "/m");
  c = chooseObjectStore(std::nullopt, std::string("/x"), std::string("/lab"), &exists);
  EXPECT_EQ(c.path, "/x/manifests");
  c = chooseObjectStore(std::nullopt, std::nullopt, std::string("/lab"), &exists);
  EXPECT_EQ(c.path, "/lab/manifests");
  EXPECT_NE(c.how.find("$WARREN_LAB_DIR"), std::string::npos);
  c = chooseObjectStore(std::nullopt, std::nullopt, std::string("/gone"), &never);
  EXPECT_EQ(c.kind, StoreChoice::Kind::kKubernetesApi);
}

TEST(WaypointCommand, ApplyEnrollDeleteOnAManifestDirectory) {
  char tmpl[] = "/tmp/warrenctl-wp-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  kube::ManifestStore store(tmpl);
  WaypointSpec spec{"waypoint", "shop", "service"};
  auto applied = applyWaypoint(store, spec);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_NE(applied->find("Gateway created"), std::string::npos);
  spec.traffic_type = "all";
  applied = applyWaypoint(store, spec);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_NE(applied->find("Gateway updated"), std::string::npos);
  auto gw = store.get({"gateway.networking.k8s.io/v1", "Gateway", "shop", "waypoint"});
  ASSERT_TRUE(gw);
  EXPECT_EQ(gw->meta.labels.at("warren.dev/waypoint-for"), "all");
  EXPECT_FALSE(gw->meta.uid.empty());
  auto labelled = enrollNamespace(store, spec);
  ASSERT_TRUE(labelled) << labelled.error().message();
  EXPECT_EQ(store.get({"v1", "Namespace", "", "shop"})->meta.labels.at("warren.dev/use-waypoint"),
            "waypoint");
  // Labelling keeps what the namespace had.
  auto ns = store.get({"v1", "Namespace", "", "shop"});
  ns->meta.labels["warren.dev/dataplane-mode"] = "ambient";
  ASSERT_TRUE(store.update(*ns));
  ASSERT_TRUE(enrollNamespace(store, WaypointSpec{"other", "shop", "service"}));
  auto after = store.get({"v1", "Namespace", "", "shop"});
  EXPECT_EQ(after->meta.labels.at("warren.dev/dataplane-mode"), "ambient");
  EXPECT_EQ(after->meta.labels.at("warren.dev/use-waypoint"), "other");
  auto missing = deleteWaypoints(store, WaypointSpec{"nope", "shop", "service"}, false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(applyWaypoint(store, WaypointSpec{"second", "shop", "workload"}));
  auto all = deleteWaypoints(store, spec, true);
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_NE(all->find("shop/second deleted"), std::string::npos);
  EXPECT_NE(all->find("shop/waypoint deleted"), std::string::npos);
  EXPECT_FALSE(store.get({"gateway.networking.k8s.io/v1", "Gateway", "shop", "waypoint"}));
  std::filesystem::remove_all(tmpl);
}

TEST(WaypointCommand, RoutesTableGolden) {
  std::string out = renderWaypointRoutes(fixture("waypoint-routes"));
  EXPECT_EQ(out, golden("waypoint-routes.table", out));
  EXPECT_NE(out.find("attempts=2 codes=503,504 backoff=10ms"), std::string::npos) << out;
  EXPECT_NE(out.find("request=300ms backend=100ms"), std::string::npos) << out;
  EXPECT_NE(out.find("shop/echo-mirror:8080 100/100"), std::string::npos) << out;
  EXPECT_NE(out.find("RequestRedirect and URLRewrite together"), std::string::npos) << out;
  EXPECT_NE(renderWaypointRoutes(nlohmann::json::object()).find("No routes attached"),
            std::string::npos);
}

TEST(WaypointCommand, RoutesNeedsAnAdminAddress) {
  auto bad = fetchWaypointRoutes("localhost", "", std::chrono::milliseconds(100));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("--admin 'localhost' is not HOST:PORT"), std::string::npos)
      << bad.error().message();
}

TEST(WaypointCommand, StatusListsWhoUsesEachWaypoint) {
  std::string one = renderWaypointStatus(fixture("waypoints"), "waypoint");
  EXPECT_NE(one.find("shop/waypoint services: shop/api, shop/web"), std::string::npos) << one;
  EXPECT_NE(one.find("shop/waypoint workloads: none"), std::string::npos) << one;
}

}  // namespace
}  // namespace warren::ctl
