#include "agent/config/manifest_dir_informer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "agent/model/cluster_model.h"
#include "agent/model/enrolment.h"
#include "manifests.h"
#include "test_util.h"

namespace warren::agent {
namespace {

using namespace testing;
using std::chrono::milliseconds;

TEST(ManifestDirInformer, SeesAddChangeDeleteWithin100ms) {
  TempDir dir;
  writeAtomically(dir.path(), "ns-a.yaml", namespaceYaml("a", "ambient"));
  writeAtomically(dir.path(), ".hidden.yaml", podYaml("a", "ghost", "n1", "10.0.0.9"));
  ClusterModel model;
  ManifestDirInformer informer(dir.path());
  ASSERT_TRUE(informer.start([&](ConfigUpdate u) { model.apply(std::move(u)); }));
  EXPECT_EQ(model.snapshot()->namespaces.count("a"), 1u);
  EXPECT_EQ(model.snapshot()->pods.count("a/ghost"), 0u);  // dot-files ignored

  auto t0 = std::chrono::steady_clock::now();
  writeAtomically(dir.path(), "pod-a-web.yaml", podYaml("a", "web", "n1", "10.0.0.1"));
  ASSERT_TRUE(waitFor([&] { return model.snapshot()->pods.count("a/web") == 1; }, milliseconds(100)));
  auto added = std::chrono::steady_clock::now() - t0;

  writeAtomically(dir.path(), "pod-a-web.yaml",
                  podYaml("a", "web", "n1", "10.0.0.1", "warren.dev/dataplane-mode: none"));
  ASSERT_TRUE(waitFor([&] { return enrolledPodsOnNode(*model.snapshot(), "n1").empty(); }, milliseconds(100)));

  std::filesystem::remove(dir.path() + "/pod-a-web.yaml");
  ASSERT_TRUE(waitFor([&] { return model.snapshot()->pods.count("a/web") == 0; }, milliseconds(100)));
  informer.stop();
  RecordProperty("add_latency_us",
                 std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(added).count()));
}

TEST(ManifestDirInformer, BrokenFileKeepsLastGoodObjects) {
  TempDir dir;
  writeAtomically(dir.path(), "svc.yaml", serviceYaml("a", "web", "10.96.0.10"));
  ClusterModel model;
  ManifestDirInformer informer(dir.path());
  ASSERT_TRUE(informer.start([&](ConfigUpdate u) { model.apply(std::move(u)); }));
  ASSERT_EQ(model.snapshot()->services.count("a/web"), 1u);
  writeAtomically(dir.path(), "svc.yaml", "kind: [unclosed\n");
  // A parse error publishes nothing; give the informer time to have seen it.
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(model.snapshot()->services.count("a/web"), 1u);
  // Fixing the file (now selecting differently) is picked up.
  writeAtomically(dir.path(), "svc.yaml", serviceYaml("a", "web", "10.96.0.11"));
  ASSERT_TRUE(waitFor([&] { return model.snapshot()->services.at("a/web").cluster_ip == "10.96.0.11"; }));
  informer.stop();
}

TEST(ManifestDirInformer, MissingDirectoryFails) {
  ManifestDirInformer informer("/nonexistent/warren-manifests");
  auto s = informer.start([](ConfigUpdate) {});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("/nonexistent/warren-manifests"), std::string::npos);
}

}  // namespace
}  // namespace warren::agent
