#include "warrenctl/resource_filter.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace warren::ctl {
namespace {

using testing::fixture;

std::vector<std::string> names(const nlohmann::json& doc, const char* key) {
  std::vector<std::string> out;
  for (const auto& i : doc["items"]) out.push_back(i.value(key, std::string("?")));
  return out;
}

using V = std::vector<std::string>;

TEST(ResourceFilter, Workloads) {
  auto doc = fixture("workloads");
  EXPECT_EQ(applyFilter(ResourceKind::kWorkloads, doc, {}), doc);
  EXPECT_EQ(
      names(applyFilter(ResourceKind::kWorkloads, doc, {"legacy", std::nullopt, std::nullopt}),
            "name"),
      V{"legacy-0"});
  EXPECT_EQ(
      names(applyFilter(ResourceKind::kWorkloads, doc, {std::nullopt, "node-1", std::nullopt}),
            "name"),
      (V{"sleep-7d9f", "legacy-0"}));
  EXPECT_EQ(names(applyFilter(ResourceKind::kWorkloads, doc, {"default", "node-1", "sleep-7d9f"}),
                  "name"),
            V{"sleep-7d9f"});
  EXPECT_TRUE(
      applyFilter(ResourceKind::kWorkloads, doc, {"nope", std::nullopt, std::nullopt})["items"]
          .empty());
  // Everything but "items" is kept.
  EXPECT_EQ(
      applyFilter(ResourceKind::kWorkloads, doc, {"nope", std::nullopt, std::nullopt})["node"],
      "node-1");
}

TEST(ResourceFilter, ConnectionsMatchEitherSide) {
  auto doc = fixture("connections");
  EXPECT_EQ(
      names(applyFilter(ResourceKind::kConnections, doc, {std::nullopt, std::nullopt, "echo-5c4b"}),
            "id"),
      V{"c-1"});
  EXPECT_EQ(names(applyFilter(ResourceKind::kConnections, doc,
                              {std::nullopt, std::nullopt, "sleep-7d9f"}),
                  "id"),
            (V{"c-1", "c-2"}));
  EXPECT_EQ(
      names(applyFilter(ResourceKind::kConnections, doc, {"default", std::nullopt, std::nullopt}),
            "id"),
      (V{"c-1", "c-2"}));
  EXPECT_TRUE(
      applyFilter(ResourceKind::kConnections, doc, {"legacy", std::nullopt, std::nullopt})["items"]
          .empty());
}

TEST(ResourceFilter, OtherKinds) {
  EXPECT_EQ(names(applyFilter(ResourceKind::kCertificates, fixture("certificates"),
                              {"legacy", std::nullopt, std::nullopt}),
                  "state"),
            V{"Pending"});
  EXPECT_EQ(names(applyFilter(ResourceKind::kServices, fixture("services"),
                              {std::nullopt, std::nullopt, "echo-9a1b"}),
                  "name"),
            V{"echo"});
  EXPECT_EQ(names(applyFilter(ResourceKind::kRedirection, fixture("redirection"),
                              {std::nullopt, std::nullopt, "other"}),
                  "pod"),
            V{});
  // Policies are not tied to one workload: the workload filter keeps them all.
  EXPECT_EQ(applyFilter(ResourceKind::kPolicies, fixture("policies"),
                        {std::nullopt, std::nullopt, "sleep-7d9f"})["items"]
                .size(),
            2u);
  // Documents without items (log, config dump) pass through.
  auto log = fixture("log");
  EXPECT_EQ(applyFilter(ResourceKind::kLog, log, {"x", "y", "z"}), log);
  EXPECT_EQ(applyFilter(ResourceKind::kWorkloads, nlohmann::json::array(), {"x", "y", "z"}),
            nlohmann::json::array());
}

}  // namespace
}  // namespace warren::ctl
