#include "common/net/ip_address.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

#include "common/net/ip_cidr.h"
#include "common/net/socket_address.h"

namespace warren::net {
namespace {

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("10.244.1.7");
  ASSERT_TRUE(v4);
  EXPECT_FALSE(v4->isV6());
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->bytes().size(), 4u);
  EXPECT_EQ(v4->toString(), "10.244.1.7");
  auto v6 = IpAddress::parse("fd00::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->isV6());
  EXPECT_EQ(v6->toString(), "fd00::1");
  EXPECT_EQ(v6->bytes().size(), 16u);
  EXPECT_NE(*v4, *v6);
  EXPECT_LT(*v4, *v6);  // every IPv4 address sorts before IPv6
  EXPECT_LT(*IpAddress::parse("10.0.0.9"), *IpAddress::parse("10.0.0.10"));
}

// IPv4 is printed by hand (not inet_ntop): every octet width, and the round trip.
TEST(IpAddress, FormatsEveryIpv4OctetWidth) {
  for (const char* text :
       {"0.0.0.0", "255.255.255.255", "1.22.133.4", "100.9.10.99", "127.0.0.1", "10.244.1.7"}) {
    auto ip = IpAddress::parse(text);
    ASSERT_TRUE(ip) << text;
    EXPECT_EQ(ip->toString(), text);
  }
  for (uint32_t n : {0u, 1u, 9u, 10u, 99u, 100u, 199u, 200u, 249u, 250u, 255u}) {
    auto b = static_cast<uint8_t>(n);
    std::string want = std::to_string(n) + "." + std::to_string(n) + ".0." + std::to_string(n);
    EXPECT_EQ(IpAddress::v4({b, b, 0, b}).toString(), want);
  }
}

TEST(IpAddress, V4MappedV6IsCanonicalisedToV4Everywhere) {
  auto mapped = IpAddress::parse("::ffff:10.0.0.2");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->isV4());
  EXPECT_EQ(*mapped, *IpAddress::parse("10.0.0.2"));
  EXPECT_EQ(mapped->toString(), "10.0.0.2");
  EXPECT_EQ(IpAddressHash{}(*mapped), IpAddressHash{}(*IpAddress::parse("10.0.0.2")));
  std::string bytes(16, '\0');
  bytes[10] = bytes[11] = '\xff';
  bytes[12] = 10;
  bytes[15] = 2;
  EXPECT_EQ(*IpAddress::fromBytes(bytes), *mapped);
}

TEST(IpAddress, HashesAndPredicates) {
  std::unordered_set<IpAddress> set{*IpAddress::parse("10.0.0.1"), *IpAddress::parse("fd00::1")};
  EXPECT_TRUE(set.contains(*IpAddress::parse("10.0.0.1")));
  EXPECT_FALSE(set.contains(*IpAddress::parse("10.0.0.2")));
  EXPECT_TRUE(IpAddress::loopbackV4().isLoopback());
  EXPECT_TRUE(IpAddress::parse("127.3.0.1")->isLoopback());
  EXPECT_TRUE(IpAddress::loopbackV6().isLoopback());
  EXPECT_FALSE(IpAddress::parse("10.0.0.1")->isLoopback());
  EXPECT_TRUE(IpAddress().isUnspecified());
  EXPECT_TRUE(IpAddress::parse("::")->isUnspecified());
  EXPECT_EQ(IpAddress::parse("10.0.0.1")->wireBytes(), std::string("\x0a\x00\x00\x01", 4));
}

IpAddress ip(std::string_view s) { return IpAddress::parse(s).value(); }

TEST(IpAddress, ParseTableCanonicalises) {
  struct Case {
    std::string_view in;
    std::string_view canonical;  // empty: must fail
  };
  const Case cases[] = {
      {"10.0.0.1", "10.0.0.1"},
      {"fd00::1", "fd00::1"},
      {"FD00:0:0::1", "fd00::1"},
      {"::ffff:10.1.2.3", "10.1.2.3"},  // v4-mapped becomes v4
      {"::1", "::1"},
      {"10.0.0.256", ""},
      {"[fd00::1]", ""},
      {"", ""},
      {"host", ""},
      {"10.0.0.1 ", ""},
      {"fe80::1%eth0", ""},
  };
  for (const auto& c : cases) {
    auto r = IpAddress::parse(c.in);
    if (c.canonical.empty()) {
      EXPECT_FALSE(r.has_value()) << c.in;
    } else {
      ASSERT_TRUE(r.has_value()) << c.in;
      EXPECT_EQ(r->toString(), c.canonical) << c.in;
    }
  }
  EXPECT_EQ(ip("::ffff:10.1.2.3"), ip("10.1.2.3"));
  EXPECT_NE(ip("10.1.2.3"), ip("10.1.2.4"));
}

TEST(IpAddress, RejectsGarbageWithTheInputInTheMessage) {
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "fd00:::1:", "host", "[fd00::1]"}) {
    auto r = IpAddress::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find(bad), std::string::npos) << r.error().message();
  }
}

TEST(IpAddress, FromXdsBytes) {
  auto v4 = IpAddress::fromBytes(std::string("\x0a\x00\x00\x01", 4));
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->toString(), "10.0.0.1");
  std::string v6bytes(16, '\0');
  v6bytes[0] = '\xfd';
  v6bytes[15] = '\x01';
  auto v6 = IpAddress::fromBytes(v6bytes);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->toString(), "fd00::1");
  auto bad = IpAddress::fromBytes("abc");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("4 or 16 bytes, got 3"), std::string::npos);
}

TEST(SocketAddress, AddressForms) {
  struct Case {
    const char* text;
    bool ok;
    const char* canonical;
  };
  const Case cases[] = {
      {"10.0.0.1:8080", true, "10.0.0.1:8080"},
      {"[fd00::1]:443", true, "[fd00::1]:443"},
      {"10.0.0.1", false, nullptr},        // CONNECT needs a port (INTEROP §17.6)
      {"10.0.0.1:0", true, "10.0.0.1:0"},  // a bind address; destinations check port 0
      {"10.0.0.1:65536", false, nullptr},
      {"fd00::1:443", false, nullptr},  // v6 must be bracketed
      {"[fd00::1]443", false, nullptr},
      {"10.0.0.1:80x", false, nullptr},
      {"web:80", false, nullptr},  // a hostname is not an IP
  };
  for (const auto& c : cases) {
    auto r = SocketAddress::parse(c.text);
    EXPECT_EQ(r.has_value(), c.ok) << c.text;
    if (r && c.ok) {
      EXPECT_EQ(r->toString(), c.canonical);
    }
  }
}

TEST(IpCidr, ContainsV4AndV6AndNeverAcrossFamilies) {
  struct Case {
    const char* cidr;
    const char* ip;
    bool in;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.255.1.2", true},  {"10.0.0.0/8", "11.0.0.1", false},
      {"10.1.2.3/32", "10.1.2.3", true},   {"10.1.2.3/32", "10.1.2.4", false},
      {"10.1.2.0/23", "10.1.3.200", true}, {"10.1.2.0/23", "10.1.4.1", false},
      {"0.0.0.0/0", "192.168.1.1", true},  {"0.0.0.0/0", "fd00::1", false},
      {"fd00::/64", "fd00::abcd", true},   {"fd00::/64", "fd00:0:0:1::1", false},
      {"fd00::1", "fd00::1", true},        {"::/0", "10.0.0.1", false},
      {"10.1.2.7/24", "10.1.2.200", true},  // host bits set, as xDS may send
  };
  for (const auto& c : cases) {
    auto n = IpCidr::parse(c.cidr);
    ASSERT_TRUE(n) << c.cidr;
    auto a = IpAddress::parse(c.ip);
    ASSERT_TRUE(a) << c.ip;
    EXPECT_EQ(n->contains(*a), c.in) << c.cidr << " contains " << c.ip;
  }
  EXPECT_FALSE(IpCidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(IpCidr::parse("fd00::/129"));
  EXPECT_FALSE(IpCidr::parse("10.0.0.0/x"));
  EXPECT_FALSE(IpCidr::parse("10.0.0.0/"));
  auto bad = IpCidr::parse("10.0.0.0/33");
  EXPECT_NE(bad.error().message().find("10.0.0.0/33"), std::string::npos) << bad.error().message();
  EXPECT_EQ(IpCidr::parse("10.1.2.7/24")->toString(), "10.1.2.7/24");
  EXPECT_EQ(IpCidr::parse("fd00::1")->prefixLength(), 128u);
}

}  // namespace
}  // namespace warren::net
