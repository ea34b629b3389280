// warren_addr.h, the very header the programs compile: how a socket hook's view becomes a
// warren_addr (a v4-mapped IPv6 address is the IPv4 one, everywhere), and where connect6 sends
// a captured connect (IPv6 destination -> [::1]:15001, IPv4 through a dual-stack socket ->
// ::ffff:127.0.0.1:15001, the IPv4 listener).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "warren_addr.h"

namespace {

struct Raw {
  __u32 ip4 = 0;
  __u32 ip6[4] = {};
};

Raw raw6(const char* ip) {
  Raw r;
  EXPECT_EQ(::inet_pton(AF_INET6, ip, r.ip6), 1) << ip;
  return r;
}

std::string text(const warren_addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family == WARREN_AF_INET) ::inet_ntop(AF_INET, &a.addr[0], buf, sizeof(buf));
  if (a.family == WARREN_AF_INET6) ::inet_ntop(AF_INET6, a.addr, buf, sizeof(buf));
  return std::to_string(a.family) + " " + buf + " " + std::to_string(a.port);
}

TEST(WarrenAddr, FromSockTable) {
  struct Case {
    const char* ip6;  // what the hook reports for an AF_INET6 socket
    std::string want;
  };
  const Case cases[] = {
      {"::ffff:10.244.2.7", "2 10.244.2.7 9000"},  // dual-stack socket, IPv4 destination
      {"::ffff:127.0.0.1", "2 127.0.0.1 9000"},
      {"::ffff:0.0.0.0", "2 0.0.0.0 9000"},
      {"fd00::42", "10 fd00::42 9000"},
      {"::1", "10 ::1 9000"},
      {"::", "10 :: 9000"},
      {"::a0f4:207", "10 ::160.244.2.7 9000"},         // IPv4-compatible (deprecated): not mapped
      {"::fffe:a0f4:207", "10 ::fffe:a0f4:207 9000"},  // one bit off the mapped prefix
      {"64:ff9b::a0f4:207", "10 64:ff9b::a0f4:207 9000"},  // NAT64: a real IPv6 destination
  };
  for (const auto& c : cases) {
    Raw r = raw6(c.ip6);
    warren_addr a;
    warren_addr_from_sock(&a, WARREN_AF_INET6, 0, r.ip6, 9000);
    EXPECT_EQ(text(a), c.want) << c.ip6;
    EXPECT_EQ(warren_ip6_is_v4mapped(r.ip6), c.want[0] == '2') << c.ip6;
  }
}

TEST(WarrenAddr, FromSockIpv4AndUnknownFamily) {
  Raw r = raw6("fd00::42");  // ignored for AF_INET
  ::inet_pton(AF_INET, "10.9.8.7", &r.ip4);
  warren_addr a;
  warren_addr_from_sock(&a, WARREN_AF_INET, r.ip4, r.ip6, 8080);
  EXPECT_EQ(text(a), "2 10.9.8.7 8080");
  EXPECT_EQ(a.addr[1] | a.addr[2] | a.addr[3], 0u);
  warren_addr_from_sock(&a, 1 /* AF_UNIX */, r.ip4, r.ip6, 8080);
  EXPECT_EQ(a.family, 0);
}

// The record connect6 writes for ::ffff:a.b.c.d and the key sockops/getsockopt build for the
// IPv4 peer are byte-for-byte the same struct (map keys compare bytes).
TEST(WarrenAddr, MappedAndIpv4AreTheSameKey) {
  Raw mapped = raw6("::ffff:127.0.0.1");
  Raw v4;
  ::inet_pton(AF_INET, "127.0.0.1", &v4.ip4);
  warren_addr a{}, b{};
  warren_addr_from_sock(&a, WARREN_AF_INET6, 0, mapped.ip6, 40000);
  warren_addr_from_sock(&b, WARREN_AF_INET, v4.ip4, nullptr, 40000);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof(a)), 0);
}

TEST(WarrenAddr, OutboundTarget6) {
  struct Case {
    const char* orig;
    const char* want;
  };
  const Case cases[] = {
      {"::ffff:10.244.2.7", "::ffff:127.0.0.1"},
      {"::ffff:10.96.0.10", "::ffff:127.0.0.1"},
      {"fd00::42", "::1"},
      {"2001:db8::1", "::1"},
  };
  for (const auto& c : cases) {
    Raw r = raw6(c.orig);
    warren_addr orig;
    warren_addr_from_sock(&orig, WARREN_AF_INET6, 0, r.ip6, 80);
    __u32 out[4];
    warren_outbound_target6(&orig, out);
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, out, buf, sizeof(buf));
    EXPECT_STREQ(buf, c.want) << c.orig;
  }
}

}  // namespace
