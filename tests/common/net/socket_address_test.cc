#include "common/net/socket_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace warren::net {
namespace {

struct ParseCase {
  const char* text;
  bool ok;
  const char* canonical;  // toString() when ok, a fragment of the error otherwise
};

TEST(SocketAddressTest, ParseTable) {
  const ParseCase cases[] = {
      {"127.0.0.1:80", true, "127.0.0.1:80"},
      {"10.244.1.5:15008", true, "10.244.1.5:15008"},
      {"0.0.0.0:0", true, "0.0.0.0:0"},
      {"[::1]:443", true, "[::1]:443"},
      {"[fd00::0001]:15001", true, "[fd00::1]:15001"},
      {"[::ffff:10.0.0.1]:1", true, "10.0.0.1:1"},  // IPv4-mapped: canonicalised to IPv4
      {"10.0.0.1:00080", true, "10.0.0.1:80"},
      {"127.0.0.1", false, "missing port"},
      {"127.0.0.1:", false, "missing port"},
      {"127.0.0.1:65536", false, "bad port"},
      {"127.0.0.1:8x", false, "bad port"},
      {"127.0.0.1:000080", false, "bad port"},  // at most 5 digits
      {"127.0.0.1:+80", false, "bad port"},
      {"::1:80", false, "IPv6 needs brackets"},
      {"[::1]80", false, "expected ':' after ']'"},
      {"[::1", false, "unclosed '['"},
      {"[::1]", false, "missing port"},
      {"[10.0.0.1]:80", false, "bad IPv6"},
      {"300.1.1.1:80", false, "bad IPv4"},
      {"host.example:80", false, "bad IPv4"},
      {"", false, "missing port"},
  };
  for (const auto& c : cases) {
    auto a = SocketAddress::parse(c.text);
    EXPECT_EQ(a.has_value(), c.ok) << c.text;
    if (c.ok && a) {
      EXPECT_EQ(a->toString(), c.canonical) << c.text;
      auto again = SocketAddress::parse(a->toString());
      ASSERT_TRUE(again) << c.text;
      EXPECT_EQ(*again, *a);
    } else if (!c.ok && !a) {
      EXPECT_NE(a.error().message().find(c.canonical), std::string::npos)
          << c.text << " -> " << a.error().message();
      EXPECT_EQ(a.error().code(), ErrorCode::kInvalidArgument);
    }
  }
}

TEST(SocketAddressTest, AccessorsAndSockaddrRoundTrip) {
  auto v4 = *SocketAddress::parse("192.168.1.2:8080");
  EXPECT_TRUE(v4.isV4());
  EXPECT_EQ(v4.family(), AF_INET);
  EXPECT_EQ(v4.port, 8080);
  EXPECT_EQ(v4.ip.toString(), "192.168.1.2");
  EXPECT_EQ(v4.toSockaddr().length, sizeof(sockaddr_in));
  EXPECT_EQ(v4.withPort(1).toString(), "192.168.1.2:1");
  auto back = SocketAddress::fromSockaddr(v4.toSockaddr().get(), v4.toSockaddr().length);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, v4);
  auto v6 = SocketAddress::loopbackV6(9);
  EXPECT_TRUE(v6.isV6());
  EXPECT_EQ(v6.toString(), "[::1]:9");
  EXPECT_EQ(v6.toSockaddr().length, sizeof(sockaddr_in6));
  auto back6 = SocketAddress::fromSockaddr(v6.toSockaddr().get(), v6.toSockaddr().length);
  ASSERT_TRUE(back6);
  EXPECT_EQ(*back6, v6);
  EXPECT_EQ(SocketAddress().toString(), "0.0.0.0:0");
  EXPECT_LT(*SocketAddress::parse("10.0.0.1:80"), *SocketAddress::parse("10.0.0.1:81"));
  EXPECT_LT(*SocketAddress::parse("255.0.0.1:80"), *SocketAddress::parse("[::1]:1"));

  // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d: it comes back as IPv4.
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  mapped.sin6_port = htons(7);
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.1.2.3", &mapped.sin6_addr), 1);
  auto m = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&mapped), sizeof mapped);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->toString(), "10.1.2.3:7");
  sockaddr bad{};
  bad.sa_family = AF_UNIX;
  auto r = SocketAddress::fromSockaddr(&bad, sizeof(bad));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not IPv4 or IPv6"), std::string::npos);
}

}  // namespace
}  // namespace warren::net
