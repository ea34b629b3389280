#include "lab/manifest_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace warren::lab {
namespace {

class ManifestStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ManifestStoreTest, PutLoadRemove) {
  ManifestStore store(dir_);
  auto objs = k8s::parseManifests(R"(
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {warren.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: demo}
spec: {containers: [{name: c}]}
)", "in.yaml");
  ASSERT_TRUE(objs);
  for (const auto& o : *objs) ASSERT_TRUE(store.put(o));
  EXPECT_EQ(ManifestStore::fileNameFor((*objs)[0]), "Namespace__demo.yaml");
  EXPECT_EQ(ManifestStore::fileNameFor((*objs)[1]), "Pod_demo_web-0.yaml");
  // Half-written files of other writers are dot-files and are ignored.
  std::ofstream(dir_ + "/.Pod_demo_x.yaml.tmp") << "garbage: [";
  auto loaded = store.loadAll();
  ASSERT_TRUE(loaded) << loaded.error().message();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].key(), "Namespace//demo");
  EXPECT_EQ((*loaded)[0].meta.labels.at("warren.dev/dataplane-mode"), "ambient");
  ASSERT_TRUE(store.remove((*objs)[1]));
  ASSERT_TRUE(store.remove((*objs)[1]));  // missing is fine
  EXPECT_EQ(store.loadAll()->size(), 1u);
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    EXPECT_FALSE(e.path().filename().string().ends_with(".tmp") &&
                 e.path().filename().string() != ".Pod_demo_x.yaml.tmp");
}

TEST_F(ManifestStoreTest, CorruptStoredFileIsAnErrorNamingIt) {
  std::ofstream(dir_ + "/Pod_default_x.yaml") << "kind: [";
  auto loaded = ManifestStore(dir_).loadAll();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("Pod_default_x.yaml"), std::string::npos);
}

}  // namespace
}  // namespace warren::lab
