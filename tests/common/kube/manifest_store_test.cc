#include "common/kube/manifest_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace warren::kube {
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
)",
                                  "in.yaml");
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

// The API server's bookkeeping and preconditions, which let several writers (the lab CLI, the
// waypoint controller) share the directory without losing each other's changes.
TEST_F(ManifestStoreTest, CreateUpdateStatusAndPreconditions) {
  ManifestStore store(dir_);
  auto gw = k8s::parseManifests(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop}
spec: {gatewayClassName: warren-waypoint}
)",
                                "gw.yaml");
  ASSERT_TRUE(gw);
  auto created = store.create(gw->front());
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_FALSE(created->meta.uid.empty());
  EXPECT_FALSE(created->meta.creation_timestamp.empty());
  EXPECT_EQ(created->meta.generation, 1);
  const std::string rv1 = created->meta.resource_version;
  EXPECT_FALSE(rv1.empty());
  auto again = store.create(gw->front());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);

  // A status write: generation stays, resourceVersion moves.
  k8s::Object with_status = *created;
  with_status.node["status"]["conditions"][0]["type"] = "Accepted";
  auto st = store.updateStatus(with_status);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->meta.generation, 1);
  EXPECT_NE(st->meta.resource_version, rv1);
  // A writer still holding the first version loses: kConflict, nothing written.
  auto stale = store.updateStatus(with_status);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  // A spec update: generation grows, the status written before is kept.
  k8s::Object respec = *st;
  respec.node["spec"]["listeners"][0]["name"] = "mesh";
  auto updated = store.update(respec);
  ASSERT_TRUE(updated) << updated.error().message();
  EXPECT_EQ(updated->meta.generation, 2);
  EXPECT_EQ(updated->meta.uid, created->meta.uid);
  EXPECT_TRUE(updated->node["status"]["conditions"].IsDefined());
  // A status-only change through put (what the kubelet does) keeps the generation.
  k8s::Object restatus = *updated;
  restatus.node["status"]["x"] = "y";
  ASSERT_TRUE(store.put(restatus));
  auto got = store.get(ObjectRef::of(restatus));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->meta.generation, 2);
  // remove with a uid precondition.
  auto wrong = store.remove(ObjectRef::of(*got), "not-the-uid");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(store.remove(ObjectRef::of(*got), got->meta.uid));
  auto gone = store.get(ObjectRef::of(*got));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  auto listed = store.list("gateway.networking.k8s.io/v1", "Gateway", "", {});
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
}

// Two processes: one holds the store's lock across a read-modify-write; the other's write
// waits for it (flock), so neither loses the other's change.
TEST_F(ManifestStoreTest, TheLockSerialisesWritersAcrossProcesses) {
  ManifestStore store(dir_);
  auto ns = k8s::parseManifests("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", "n");
  ASSERT_TRUE(ns);
  ASSERT_TRUE(store.create(ns->front()));
  // Fork before locking: a child inheriting our lock's file description would share the lock.
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(go[1]);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(4);  // the parent holds the lock now
    ManifestStore other(dir_);
    auto l = other.lock();  // waits for the parent's
    if (!l) ::_exit(1);
    auto n = other.get(ObjectRef{"v1", "Namespace", "", "a"});
    if (!n) ::_exit(2);
    n->meta.labels["writer"] = "child";
    ::_exit(other.update(*n) ? 0 : 3);
  }
  ::close(go[0]);
  auto held = store.lock();
  ASSERT_TRUE(held);
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ::close(go[1]);
  // While we hold the lock, the child's update cannot land.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, WNOHANG), 0) << "the child wrote while the lock was held";
  auto mine = store.get(ObjectRef{"v1", "Namespace", "", "a"});
  ASSERT_TRUE(mine);
  mine->meta.labels["writer"] = "parent";
  ASSERT_TRUE(store.update(*mine));
  { auto release = std::move(*held); }
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  // The child read after our write (it waited for the lock), so its update applied on top of
  // ours instead of replacing it with what it had read before.
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(store.get(ObjectRef{"v1", "Namespace", "", "a"})->meta.labels.at("writer"), "child");
}

}  // namespace
}  // namespace warren::kube

namespace warren::kube {
namespace {

// Regression: objects sharing a name across kinds once came back with each other's YAML when the
// store sorted k8s::Object values (YAML::Node assignment rebinds shared nodes).
TEST(ManifestStoreOrderTest, ObjectsKeepTheirOwnDocuments) {
  char tmpl[] = "/tmp/warren-store-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  ManifestStore store(tmpl);
  auto objs = k8s::parseManifests(R"(
apiVersion: v1
kind: ServiceAccount
metadata: {name: echo, namespace: demo}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
)",
                                  "in.yaml");
  ASSERT_TRUE(objs);
  for (const auto& o : *objs) ASSERT_TRUE(store.put(o));
  auto loaded = store.loadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 3u);
  for (const auto& o : *loaded) {
    EXPECT_EQ(o.node["kind"].as<std::string>(), o.kind);
    if (o.kind == "Service") {
      EXPECT_TRUE(o.node["spec"]["ports"].IsSequence());
    }
  }
  k8s::Object copy = (*loaded)[0];
  copy.node["extra"] = "x";
  EXPECT_FALSE((*loaded)[0].node["extra"].IsDefined());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace warren::kube
