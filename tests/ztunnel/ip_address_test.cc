#include "ztunnel/state/ip_address.h"

#include <gtest/gtest.h>

#include "ztunnel/state/identity.h"

namespace warren::ztunnel {
namespace {

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("10.244.1.7");
  ASSERT_TRUE(v4);
  EXPECT_FALSE(v4->isV6());
  EXPECT_EQ(v4->toString(), "10.244.1.7");
  auto v6 = IpAddress::parse("fd00::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->isV6());
  EXPECT_EQ(v6->toString(), "fd00::1");
  EXPECT_NE(*v4, *v6);
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

TEST(SocketAddress, AuthorityForms) {
  struct Case {
    const char* text;
    bool ok;
    const char* canonical;
  };
  const Case cases[] = {
      {"10.0.0.1:8080", true, "10.0.0.1:8080"},
      {"[fd00::1]:443", true, "[fd00::1]:443"},
      {"10.0.0.1", false, nullptr},        // CONNECT needs a port (INTEROP §17.6)
      {"10.0.0.1:0", false, nullptr},      // port 0 is not a destination
      {"10.0.0.1:65536", false, nullptr},
      {"fd00::1:443", false, nullptr},     // v6 must be bracketed
      {"[fd00::1]443", false, nullptr},
      {"10.0.0.1:80x", false, nullptr},
      {"web:80", false, nullptr},          // a hostname is not an IP
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
      {"10.0.0.0/8", "10.255.1.2", true},    {"10.0.0.0/8", "11.0.0.1", false},
      {"10.1.2.3/32", "10.1.2.3", true},     {"10.1.2.3/32", "10.1.2.4", false},
      {"10.1.2.0/23", "10.1.3.200", true},   {"10.1.2.0/23", "10.1.4.1", false},
      {"0.0.0.0/0", "192.168.1.1", true},    {"0.0.0.0/0", "fd00::1", false},
      {"fd00::/64", "fd00::abcd", true},     {"fd00::/64", "fd00:0:0:1::1", false},
      {"fd00::1", "fd00::1", true},          {"::/0", "10.0.0.1", false},
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
}

TEST(SpiffeIdentity, ParseFormatAndPrincipal) {
  auto id = SpiffeIdentity::parse("spiffe://cluster.local/ns/default/sa/web");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->trust_domain, "cluster.local");
  EXPECT_EQ(id->namespace_, "default");
  EXPECT_EQ(id->service_account, "web");
  EXPECT_EQ(id->principal(), "cluster.local/ns/default/sa/web");
  EXPECT_EQ(id->toString(), "spiffe://cluster.local/ns/default/sa/web");
  for (const char* bad : {"cluster.local/ns/a/sa/b", "spiffe://td/ns/a", "spiffe://td/x/a/sa/b",
                          "spiffe:///ns/a/sa/b", "spiffe://td/ns/a/sa/b/extra"}) {
    EXPECT_FALSE(SpiffeIdentity::parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace warren::ztunnel
