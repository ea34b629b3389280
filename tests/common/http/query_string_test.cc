#include "common/http/query_string.h"

#include <gtest/gtest.h>

namespace warren::http {
namespace {

TEST(PercentDecode, Table) {
  struct Case {
    const char* in;
    bool plus;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {"abc", false, "abc"},        {"a%20b", false, "a b"},
      {"a+b", true, "a b"},         {"a+b", false, "a+b"},
      {"%2F%2f", false, "//"},      {"%", false, std::nullopt},
      {"%4", false, std::nullopt},  {"%zz", false, std::nullopt},
      {"x%4", false, std::nullopt}, {"", false, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(percentDecode(c.in, c.plus), c.want) << c.in;
}

TEST(ParseQuery, KeysValuesAndFlags) {
  auto q = parseQuery("level=debug&component=ztunnel&flag&&x=a%26b&level=warn");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("level"), "warn");  // the last repetition wins
  EXPECT_EQ(q->at("component"), "ztunnel");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_EQ(q->at("x"), "a&b");
  EXPECT_EQ(q->size(), 4u);
  EXPECT_FALSE(parseQuery("a=%G0"));
}

TEST(ParseTarget, SplitsPathQueryFragment) {
  auto t = parseTarget("/api/v1/log?level=debug#top");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/api/v1/log");
  EXPECT_EQ(t->query.at("level"), "debug");
  auto plain = parseTarget("/metrics");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->path, "/metrics");
  EXPECT_TRUE(plain->query.empty());
  EXPECT_FALSE(parseTarget("http://host/x"));  // absolute-form is not for us
  EXPECT_FALSE(parseTarget("*"));
  EXPECT_FALSE(parseTarget(""));
}

}  // namespace
}  // namespace warren::http
