#include "waypoint/request/header_map.h"

#include <gtest/gtest.h>

#include "waypoint/request/http_request.h"

namespace warren::waypoint {
namespace {

TEST(HeaderMap, CaseInsensitiveMultimap) {
  HeaderMap h{{"X-A", "1"}, {"x-b", "2"}, {"X-a", "3"}};
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(*h.first("x-a"), "1");
  EXPECT_EQ(*h.joined("X-A"), "1,3");
  EXPECT_FALSE(h.joined("x-c").has_value());
  h.set("X-A", "9");  // replaces both, keeps the first position
  EXPECT_EQ(*h.joined("x-a"), "9");
  EXPECT_EQ(h.begin()->name, "x-a");
  h.add("X-B", "4");
  EXPECT_EQ(*h.joined("x-b"), "2,4");
  EXPECT_EQ(h.remove("X-B"), 2u);
  EXPECT_FALSE(h.contains("x-b"));
  h.set("New", "v");
  EXPECT_EQ((std::prev(h.end()))->name, "new");
}

TEST(HttpRequest, AuthorityAndGrpc) {
  HttpRequest r;
  r.authority = "echo:8080";
  EXPECT_EQ(r.host(), "echo");
  EXPECT_EQ(r.authorityPort(), 8080);
  r.authority = "[fd00::1]:80";
  EXPECT_EQ(r.host(), "fd00::1");
  EXPECT_EQ(r.authorityPort(), 80);
  r.authority = "echo";
  EXPECT_EQ(r.host(), "echo");
  EXPECT_FALSE(r.authorityPort().has_value());
  r.authority = "echo:99999";
  EXPECT_FALSE(r.authorityPort().has_value());

  EXPECT_FALSE(r.isGrpc());
  r.headers.set("content-type", "application/grpc");
  EXPECT_TRUE(r.isGrpc());
  r.headers.set("content-type", "Application/GRPC+proto");
  EXPECT_TRUE(r.isGrpc());
  r.headers.set("content-type", "application/grpc-web");
  EXPECT_FALSE(r.isGrpc());

  r.path = "/a";
  EXPECT_EQ(r.pathAndQuery(), "/a");
  r.query = "x=1";
  EXPECT_EQ(r.pathAndQuery(), "/a?x=1");
}

}  // namespace
}  // namespace warren::waypoint
