#include "common/http/listen_address.h"

#include <gtest/gtest.h>

namespace warren::http {
namespace {

TEST(ListenAddress, ParseTable) {
  auto u = ListenAddress::parse("unix:/run/warren/admin.sock");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, ListenAddress::Kind::kUnix);
  EXPECT_EQ(u->path, "/run/warren/admin.sock");
  EXPECT_EQ(u->toString(), "unix:/run/warren/admin.sock");

  auto bare = ListenAddress::parse("/tmp/x.sock");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/tmp/x.sock");

  auto t = ListenAddress::parse("127.0.0.1:15000");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, ListenAddress::Kind::kTcp);
  EXPECT_EQ(t->socket_address, *net::SocketAddress::parse("127.0.0.1:15000"));
  EXPECT_EQ(t->toString(), "127.0.0.1:15000");

  auto v6 = ListenAddress::parse("[::1]:15020");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->socket_address, net::SocketAddress::loopbackV6(15020));
  EXPECT_EQ(v6->toString(), "[::1]:15020");

  for (const char* bad :
       {"", "unix:", "localhost:80", "1.2.3.4", "1.2.3.4:99999", "1.2.3.4:x", "1.2.3.4:"}) {
    auto r = ListenAddress::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ListenAddress::parse("unix:/" + std::string(200, 'x')));
}

}  // namespace
}  // namespace warren::http
