#include "common/identity/spiffe_id.h"

#include <gtest/gtest.h>

namespace warren::identity {
namespace {

TEST(SpiffeId, ParsesIstioForm) {
  auto id = SpiffeId::parse("spiffe://cluster.local/ns/default/sa/sleep");
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(id->trustDomain(), "cluster.local");
  EXPECT_EQ(id->ns(), "default");
  EXPECT_EQ(id->serviceAccount(), "sleep");
  EXPECT_EQ(id->uri(), "spiffe://cluster.local/ns/default/sa/sleep");
  EXPECT_EQ(id->principal(), "cluster.local/ns/default/sa/sleep");
}

TEST(SpiffeId, PrincipalRoundTrip) {
  auto id = SpiffeId::fromPrincipal("td_1.example-x/ns/Kube.System/sa/my_sa-1.x");
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(id->uri(), "spiffe://td_1.example-x/ns/Kube.System/sa/my_sa-1.x");
  auto again = SpiffeId::fromPrincipal(id->principal());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *id);
}

TEST(SpiffeId, MakeBuildsAndValidates) {
  auto id = SpiffeId::make("cluster.local", "a", "b");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->uri(), "spiffe://cluster.local/ns/a/sa/b");
  auto bad = SpiffeId::make("Cluster.local", "a", "b");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

TEST(SpiffeId, OrderingAndEquality) {
  auto a = *SpiffeId::parse("spiffe://td/ns/a/sa/x");
  auto b = *SpiffeId::parse("spiffe://td/ns/b/sa/x");
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, *SpiffeId::make("td", "a", "x"));
}

struct BadCase {
  const char* name;
  std::string input;
  const char* error_contains;
};

class SpiffeIdRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(SpiffeIdRejects, WithClearError) {
  const auto& c = GetParam();
  auto id = SpiffeId::parse(c.input);
  ASSERT_FALSE(id) << "accepted " << c.input;
  EXPECT_EQ(id.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(id.error().message().find(c.error_contains), std::string::npos)
      << "message: " << id.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, SpiffeIdRejects,
    ::testing::Values(
        BadCase{"empty", "", "must start with \"spiffe://\""},
        BadCase{"upper_scheme", "SPIFFE://td/ns/a/sa/b", "must start with \"spiffe://\""},
        BadCase{"http_scheme", "https://td/ns/a/sa/b", "must start with"},
        BadCase{"no_path", "spiffe://cluster.local", "missing path"},
        BadCase{"empty_td", "spiffe:///ns/a/sa/b", "trust domain is empty"},
        BadCase{"upper_td", "spiffe://Cluster.local/ns/a/sa/b", "'C' at position 0"},
        BadCase{"port", "spiffe://td:443/ns/a/sa/b", "must not carry a port"},
        BadCase{"userinfo", "spiffe://u@td/ns/a/sa/b", "must not carry userinfo"},
        BadCase{"no_ns", "spiffe://td/sa/b", "must start with /ns/"},
        BadCase{"no_sa", "spiffe://td/ns/a", "has no /sa/ segment"},
        BadCase{"empty_ns", "spiffe://td/ns//sa/b", "namespace is empty"},
        BadCase{"empty_sa", "spiffe://td/ns/a/sa/", "service account is empty"},
        BadCase{"dot_ns", "spiffe://td/ns/../sa/b", "namespace must not be \"..\""},
        BadCase{"extra_segment", "spiffe://td/ns/a/sa/b/c", "extra segments"},
        BadCase{"extra_ns_segment", "spiffe://td/ns/a/x/sa/b", "extra segments"},
        BadCase{"trailing_slash", "spiffe://td/ns/a/sa/b/", "extra segments"},
        BadCase{"query", "spiffe://td/ns/a/sa/b?x=1", "'?' at position 1"},
        BadCase{"fragment", "spiffe://td/ns/a/sa/b#f", "'#'"},
        BadCase{"percent", "spiffe://td/ns/a%20/sa/b", "'%'"},
        BadCase{"space", "spiffe://td/ns/a b/sa/b", "byte 0x20 at position 1"},
        BadCase{"nul", std::string("spiffe://td/ns/a\0/sa/b", 23), "byte 0x00"},
        BadCase{"long_td", "spiffe://" + std::string(256, 'a') + "/ns/a/sa/b",
                "at most 255 allowed"},
        BadCase{"too_long", "spiffe://td/ns/a/sa/" + std::string(2100, 'b'), "at most 2048"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(SpiffeId, PrincipalRejectsScheme) {
  auto id = SpiffeId::fromPrincipal("spiffe://td/ns/a/sa/b");
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message().find("must not start with \"spiffe://\""), std::string::npos);
  auto bad = SpiffeId::fromPrincipal("td/ns/a");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("principal \"td/ns/a\""), std::string::npos);
}

}  // namespace
}  // namespace warren::identity
