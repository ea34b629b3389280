#include "bench/tools/tool_options.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace warren::bench {
namespace {

using Args = std::vector<std::string>;

TEST(ParseTarget, Table) {
  auto t = parseTarget("10.244.1.5:8080");
  ASSERT_TRUE(t);
  EXPECT_EQ(ntohs(t->addr.sin_port), 8080);
  EXPECT_EQ(t->addr.sin_family, AF_INET);
  EXPECT_EQ(t->text, "10.244.1.5:8080");
  for (const char* bad : {"", "10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536",
                          "10.0.0.1:80x", "host:80", "::1:80", "10.0.0.256:80"}) {
    EXPECT_FALSE(parseTarget(bad)) << bad;
  }
}

TEST(ParseRrOptions, DefaultsAndOverrides) {
  auto o = parseRrOptions({"--to", "1.2.3.4:7"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->size, 64u);
  EXPECT_EQ(o->duration_s, 5);
  o = parseRrOptions({"--to", "1.2.3.4:7", "--size", "1", "--duration", "0.5", "--warmup", "0"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->size, 1u);
  EXPECT_EQ(o->duration_s, 0.5);
  EXPECT_EQ(o->warmup_s, 0);
}

TEST(ParseRrOptions, BadFlagsNameTheFlag) {
  struct Case {
    Args args;
    std::string want;
  } cases[] = {
      {{}, "--to"},
      {{"--to", "1.2.3.4"}, "--to"},
      {{"--to", "1.2.3.4:7", "--size", "0"}, "--size"},
      {{"--to", "1.2.3.4:7", "--duration", "0"}, "--duration"},
      {{"--to", "1.2.3.4:7", "--duration", "99999"}, "--duration"},
      {{"--to", "1.2.3.4:7", "--timeout", "-1"}, "--timeout"},
      {{"--to", "1.2.3.4:7", "--bogus"}, "bogus"},
      {{"--to", "1.2.3.4:7", "--size", "abc"}, "--size"},
  };
  for (const auto& c : cases) {
    auto o = parseRrOptions(c.args);
    ASSERT_FALSE(o) << c.want;
    EXPECT_NE(o.error().message().find(c.want), std::string::npos) << o.error().message();
  }
}

TEST(ParseRrOptions, HelpIsAnErrorCarryingTheUsage) {
  auto o = parseRrOptions({"--help"});
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().message().find("--duration"), std::string::npos);
}

TEST(ParseHttpOptions, Table) {
  auto o = parseHttpOptions({"--to", "1.2.3.4:80", "--rate", "500", "--connections", "2"});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->rate, 500);
  EXPECT_EQ(o->connections, 2u);
  EXPECT_EQ(o->path, "/1k");
  for (const Args& bad :
       {Args{"--to", "1.2.3.4:80", "--rate", "0"}, Args{"--to", "1.2.3.4:80", "--connections", "0"},
        Args{"--to", "1.2.3.4:80", "--path", "nope"},
        Args{"--to", "1.2.3.4:80", "--path", "/a b"}}) {
    EXPECT_FALSE(parseHttpOptions(bad)) << bad[2];
  }
}

TEST(ParseConnRateAndIdleAndEchoOptions, Table) {
  EXPECT_TRUE(parseConnRateOptions({"--to", "1.2.3.4:7", "--threads", "4"}));
  EXPECT_FALSE(parseConnRateOptions({"--to", "1.2.3.4:7", "--threads", "0"}));
  auto idle = parseIdleOptions({"--to", "1.2.3.4:7", "--count", "100", "--hold", "0"});
  ASSERT_TRUE(idle) << idle.error().message();
  EXPECT_EQ(idle->count, 100u);
  EXPECT_FALSE(parseIdleOptions({"--to", "1.2.3.4:7", "--count", "0"}));
  EXPECT_FALSE(parseIdleOptions({"--to", "1.2.3.4:7", "--open-budget", "0"}));
  EXPECT_EQ(idle->parallel, 4u);
  EXPECT_FALSE(parseIdleOptions({"--to", "1.2.3.4:7", "--parallel", "0"}));
  EXPECT_FALSE(parseIdleOptions({"--to", "1.2.3.4:7", "--parallel", "65"}));
  auto echo = parseEchoOptions({"--port", "7000"});
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->bind, "0.0.0.0");
  EXPECT_FALSE(parseEchoOptions({}));
  EXPECT_FALSE(parseEchoOptions({"--port", "70000"}));
  EXPECT_FALSE(parseEchoOptions({"--port", "7000", "--bind", "nowhere"}));
}

TEST(ParseFloorOptions, Table) {
  auto floor = parseFloorOptions({});
  ASSERT_TRUE(floor);
  EXPECT_EQ(floor->duration_s, 1);
  EXPECT_EQ(parseFloorOptions({"--duration", "0.2"})->duration_s, 0.2);
  for (const auto& bad : {Args{"--duration", "0"}, Args{"--duration", "0.001"}, Args{"--duration", "11"},
                          Args{"--duration", "x"}, Args{"--to", "1.2.3.4:7"}}) {
    auto r = parseFloorOptions(bad);
    ASSERT_FALSE(r) << bad[0] << " " << bad[1];
    EXPECT_NE(r.error().message().find("--"), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace warren::bench
