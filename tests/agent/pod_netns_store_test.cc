// The agent's records of CNI ADDs (agent/redirect/pod_netns_store): how a restarted agent finds
// the netns of pods that already run, keyed by pod, never by address.
#include "agent/redirect/pod_netns_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace warren::agent {
namespace {

namespace fs = std::filesystem;

class PodNetnsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warren-pod-netns-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  // A record of this process's own netns (a netns anyone may open).
  static PodNetnsRecord ownNetns(const std::string& ns, const std::string& name) {
    struct stat st {};
    EXPECT_EQ(::stat("/proc/self/ns/net", &st), 0);
    return PodNetnsRecord{ns,           name,      "uid-" + name, "/proc/self/ns/net",
                          "10.244.1.5", st.st_dev, st.st_ino};
  }
  fs::path root_;
};

TEST_F(PodNetnsStoreTest, SavesLoadsAndForgetsRootOnly) {
  PodNetnsStore store((root_ / "pods").string());
  EXPECT_TRUE(store.load().empty()) << "no dir yet: no records";
  // Two pods with the same address (two clusters' ranges, or a reused IP): two records.
  PodNetnsRecord a = ownNetns("demo", "a");
  PodNetnsRecord b = ownNetns("other", "b");
  ASSERT_TRUE(store.save(a));
  ASSERT_TRUE(store.save(b));
  auto loaded = store.load();
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_TRUE((loaded[0] == a && loaded[1] == b) || (loaded[0] == b && loaded[1] == a));

  struct stat st {};
  ASSERT_EQ(::stat(store.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const auto& e : fs::directory_iterator(store.dir())) {
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
    EXPECT_EQ(e.path().extension(), ".json");
  }

  a.netns_path = "/proc/1/ns/net";  // a new ADD for the same pod replaces its record
  ASSERT_TRUE(store.save(a));
  loaded = store.load();
  ASSERT_EQ(loaded.size(), 2u);
  for (const auto& r : loaded) {
    if (r.name == "a") {
      EXPECT_EQ(r.netns_path, "/proc/1/ns/net");
    }
  }

  store.forget("demo", "a");
  store.forget("demo", "never-recorded");
  loaded = store.load();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0], b);
}

TEST_F(PodNetnsStoreTest, PodNamesNeverBecomePathComponents) {
  PodNetnsStore store((root_ / "pods").string());
  PodNetnsRecord evil = ownNetns("../../etc", "passwd");
  evil.name = std::string(300, 'x');  // longer than a file name may be
  ASSERT_TRUE(store.save(evil));
  EXPECT_FALSE(fs::exists(root_ / "etc"));
  auto loaded = store.load();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0], evil);
}

TEST_F(PodNetnsStoreTest, LoadSkipsWhatIsNotARecord) {
  PodNetnsStore store((root_ / "pods").string());
  ASSERT_TRUE(store.save(ownNetns("demo", "a")));
  std::ofstream(root_ / "pods" / "garbage.json") << "{not json";
  std::ofstream(root_ / "pods" / "partial.json") << R"({"namespace": "demo", "name": "x"})";
  std::ofstream(root_ / "pods" / "half-written.json.tmp") << "{";
  auto loaded = store.load();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].name, "a");
}

TEST_F(PodNetnsStoreTest, OpensOnlyTheRecordedNamespace) {
  PodNetnsRecord r = ownNetns("demo", "a");
  auto fd = openRecordedNetns(r);
  ASSERT_TRUE(fd) << fd.error().message();
  auto id = netnsIdentity(fd->get());
  ASSERT_TRUE(id);
  EXPECT_EQ(id->second, r.netns_inode);

  PodNetnsRecord moved = r;  // the path now names another namespace than the ADD saw
  moved.netns_inode += 1;
  auto refused = openRecordedNetns(moved);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("is now another namespace"), std::string::npos)
      << refused.error().message();

  PodNetnsRecord gone = r;  // the pod was deleted while no agent ran
  gone.netns_path = (root_ / "no-such-netns").string();
  auto missing = openRecordedNetns(gone);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("demo/a"), std::string::npos)
      << missing.error().message();
}

}  // namespace
}  // namespace warren::agent
