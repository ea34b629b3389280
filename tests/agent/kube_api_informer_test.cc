// The Kubernetes informer against FakeKubeApi (tests/agent/fake_kube_api.h): list + watch,
// pagination, bookmarks, dropped connections, 410 mid-stream, list errors with back-off.
#include "agent/config/kube_api_informer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/model/cluster_model.h"
#include "fake_kube_api.h"
#include "test_util.h"

namespace warren::agent {
namespace {

using namespace testing;
using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kPods = "/api/v1/pods";
constexpr const char* kNamespaces = "/api/v1/namespaces";

json pod(const std::string& name, const std::string& ip, int port = 8080) {
  return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                     R"(","namespace":"shop","labels":{"app":"web"}},"spec":{"nodeName":"node-1",)"
                     R"("containers":[{"name":"c","ports":[{"containerPort":)" +
                     std::to_string(port) + R"(}]}]},"status":{"phase":"Running","podIP":")" + ip +
                     R"("}})");
}

std::vector<KubeResource> resources() {
  return {{kNamespaces, "v1", "Namespace"}, {kPods, "v1", "Pod"}};
}

class KubeInformer : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.upsert(
        kNamespaces,
        json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})"));
    for (int i = 0; i < 7; ++i)
      api_.upsert(kPods, pod("web-" + std::to_string(i), "10.0.0." + std::to_string(i + 1)));
  }
  void start() {
    KubeApiConfig cfg;
    cfg.server = api_.url();
    informer_ = std::make_unique<KubeApiInformer>(cfg, resources(), std::chrono::seconds(30));
    ASSERT_TRUE(informer_->start([this](ConfigUpdate u) { model_.apply(std::move(u)); }));
  }
  bool hasPod(const std::string& name) {
    return model_.snapshot()->pods.count("shop/" + name) == 1;
  }
  void TearDown() override {
    if (informer_) informer_->stop();
  }

  FakeKubeApi api_;
  ClusterModel model_;
  std::unique_ptr<KubeApiInformer> informer_;
};

TEST_F(KubeInformer, ListsThenWatchesAddChangeDelete) {
  start();
  // Pods and namespaces are separate lists: wait for both (the pods may land first).
  ASSERT_TRUE(waitFor([&] {
    auto s = model_.snapshot();
    return s->pods.size() == 7 && s->namespaces.count("shop") == 1;
  }));
  auto t0 = std::chrono::steady_clock::now();
  api_.upsert(kPods, pod("new", "10.0.0.50"));
  // The latency is recorded, not asserted (timing never decides a test).
  ASSERT_TRUE(waitFor([&] { return hasPod("new"); }));
  RecordProperty("watch_event_to_model_us",
                 std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - t0)
                                    .count()));
  api_.upsert(kPods, pod("new", "10.0.0.51"));
  ASSERT_TRUE(waitFor([&] {
    return hasPod("new") && model_.snapshot()->pods.at("shop/new")->status.pod_ip == "10.0.0.51";
  }));
  api_.remove(kPods, "shop", "new");
  ASSERT_TRUE(waitFor([&] { return !hasPod("new"); }));
  EXPECT_EQ(informer_->stats().lists, 2u);  // one per kind, no re-list
}

TEST_F(KubeInformer, WatchExpiryMidStreamReLists) {
  start();
  ASSERT_TRUE(waitFor([&] {
    return model_.snapshot()->pods.size() == 7 && model_.snapshot()->namespaces.size() == 1 &&
           api_.watches() >= 2;
  }));
  int lists = api_.lists();
  // A deletion the watch never reports (compacted away), then the watch expires mid-stream:
  // only a re-list can notice it.
  api_.removeSilently(kPods, "shop", "web-3");
  api_.expireWatches();
  ASSERT_TRUE(waitFor([&] { return !hasPod("web-3"); }));
  EXPECT_GE(informer_->stats().expired, 1u);
  EXPECT_GT(api_.lists(), lists);
  // The other kind was re-listed too (its watch expired as well) and kept its objects.
  ASSERT_TRUE(waitFor([&] { return informer_->stats().expired >= 2; }));
  EXPECT_EQ(model_.snapshot()->namespaces.count("shop"), 1u);
  EXPECT_EQ(model_.snapshot()->pods.size(), 6u);
  // Watching resumes after the re-list.
  api_.upsert(kPods, pod("after", "10.0.0.60"));
  ASSERT_TRUE(waitFor([&] { return hasPod("after"); }));
}

TEST_F(KubeInformer, BookmarkAndDroppedConnectionResumeWithoutReList) {
  start();
  ASSERT_TRUE(waitFor([&] { return model_.snapshot()->pods.size() == 7 && api_.watches() >= 2; }));
  api_.sendBookmarks();
  ASSERT_TRUE(waitFor([&] { return informer_->stats().bookmarks >= 2; }));
  const std::string bookmark_rv = std::to_string(api_.resourceVersion());
  int lists = api_.lists();
  api_.dropConnections();
  ASSERT_TRUE(waitFor([&] { return api_.watchResourceVersions().size() >= 4; }));
  auto rvs = api_.watchResourceVersions();
  EXPECT_EQ(rvs[2], bookmark_rv);  // both watches resumed from the bookmark
  EXPECT_EQ(rvs[3], bookmark_rv);
  EXPECT_EQ(api_.lists(), lists);  // no re-list
  api_.upsert(kPods, pod("later", "10.0.0.70"));
  ASSERT_TRUE(waitFor([&] { return hasPod("later"); }));
}

TEST_F(KubeInformer, ListErrorsBackOffThenSucceed) {
  api_.failNextLists(3);
  start();
  ASSERT_TRUE(waitFor([&] { return model_.snapshot()->pods.size() == 7; }, milliseconds(5000)));
  EXPECT_GE(informer_->stats().errors, 1u);
}

TEST_F(KubeInformer, BadObjectKeepsLastGood) {
  start();
  ASSERT_TRUE(waitFor([&] { return hasPod("web-0"); }));
  json bad = pod("web-0", "10.0.0.1");
  bad["spec"]["containers"][0]["ports"][0]["containerPort"] = 99999;
  api_.upsert(kPods, bad);
  api_.upsert(kPods, pod("marker", "10.0.0.90"));  // events are in order: after this, bad was seen
  ASSERT_TRUE(waitFor([&] { return hasPod("marker"); }));
  EXPECT_EQ(model_.snapshot()->pods.at("shop/web-0")->spec.containers[0].ports[0].container_port,
            8080);
}

TEST(KubeApiConfig, Kubeconfig) {
  TempDir dir;
  std::string path = dir.path() + "/config";
  std::ofstream(path) << R"(apiVersion: v1
kind: Config
current-context: lab
contexts:
- name: lab
  context: {cluster: c1, user: u1}
clusters:
- name: c1
  cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: "aGVsbG8="}
users:
- name: u1
  user: {token: abc}
)";
  auto cfg = kubeconfigFile(path);
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->server, "https://10.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, "hello");
  EXPECT_EQ(cfg->token, "abc");
  std::ofstream(path) << "current-context: nope\ncontexts: []\n";
  auto bad = kubeconfigFile(path);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("nope"), std::string::npos);
}

}  // namespace
}  // namespace warren::agent
