// The sk_msg fast path's pure decisions: warren_fastpath.h is the very header the BPF programs
// compile, so these tables check the kernel-side logic; fastPathConfig() is the agent side
// that fills the programs' knob from --pod-cidr.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "bpf/loader/bpf_address.h"
#include "bpf/loader/fast_path_config.h"
#include "warren_fastpath.h"

namespace warren::redirect {
namespace {

warren_addr addr(const std::string& ip, uint16_t port = 0) {
  warren_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a.addr[0]) == 1) {
    a.family = WARREN_AF_INET;
  } else {
    EXPECT_EQ(::inet_pton(AF_INET6, ip.c_str(), a.addr), 1) << ip;
    a.family = WARREN_AF_INET6;
  }
  a.port = port;
  return a;
}

warren_fastpath_cfg cfg(const std::string& cidr) {
  auto c = fastPathConfig(cidr);
  EXPECT_TRUE(c) << cidr << ": " << (c ? "" : c.error().message());
  return c ? *c : warren_fastpath_cfg{};
}

TEST(FastPathScope, Table) {
  struct Case {
    std::string local, remote, cidr;
    enum warren_fastpath_scope want;  // "enum": the function of the same name hides the type
  };
  const Case cases[] = {
      // Loopback pairs share a netns: always eligible, with or without a pod CIDR.
      {"127.0.0.1", "127.0.0.1", "", WARREN_FASTPATH_LOOPBACK},
      {"127.0.0.1", "127.0.0.1", "10.244.1.0/24", WARREN_FASTPATH_LOOPBACK},
      {"127.0.0.5", "127.1.2.3", "", WARREN_FASTPATH_LOOPBACK},
      {"::1", "::1", "", WARREN_FASTPATH_LOOPBACK},
      {"::ffff:127.0.0.1", "::ffff:127.0.0.1", "", WARREN_FASTPATH_LOOPBACK},
      // Pod pairs: both ends inside this node's pod CIDR.
      {"10.244.1.5", "10.244.1.6", "10.244.1.0/24", WARREN_FASTPATH_POD},
      {"10.244.1.5", "10.244.1.5", "10.244.1.0/24", WARREN_FASTPATH_POD},
      {"10.244.1.255", "10.244.1.0", "10.244.1.0/24", WARREN_FASTPATH_POD},
      {"fd00:10:244:1::5", "fd00:10:244:1::6", "fd00:10:244:1::/64", WARREN_FASTPATH_POD},
      {"10.1.2.3", "10.200.0.1", "0.0.0.0/0", WARREN_FASTPATH_POD},
      // Not both local: another node's pod, a Service VIP, the node address, outside.
      {"10.244.1.5", "10.244.2.6", "10.244.1.0/24", WARREN_FASTPATH_NONE},
      {"10.244.1.5", "10.96.0.10", "10.244.1.0/24", WARREN_FASTPATH_NONE},
      {"192.168.100.11", "10.244.1.6", "10.244.1.0/24", WARREN_FASTPATH_NONE},
      {"10.244.1.5", "10.244.1.6", "", WARREN_FASTPATH_NONE},
      {"fd00:10:244:2::5", "fd00:10:244:1::6", "fd00:10:244:1::/64", WARREN_FASTPATH_NONE},
      // One end loopback, the other not (source bound to a pod address): not a loopback pair.
      {"10.244.1.5", "127.0.0.1", "10.244.1.0/24", WARREN_FASTPATH_NONE},
      {"127.0.0.1", "10.244.1.5", "10.244.1.0/24", WARREN_FASTPATH_NONE},
      // A v4 CIDR never matches v6 addresses and the other way round.
      {"::ffff:10.244.1.5", "::ffff:10.244.1.6", "10.244.1.0/24", WARREN_FASTPATH_NONE},
      {"::2", "::1", "", WARREN_FASTPATH_NONE},
  };
  for (const auto& c : cases) {
    const warren_fastpath_cfg knob = cfg(c.cidr);
    const warren_addr local = addr(c.local, 40000);
    const warren_addr remote = addr(c.remote, 8080);
    EXPECT_EQ(warren_fastpath_scope(&local, &remote, &knob), c.want)
        << c.local << " -> " << c.remote << " with '" << c.cidr << "'";
    // Both ends must agree, or they would build keys the other never finds.
    EXPECT_EQ(warren_fastpath_scope(&remote, &local, &knob), c.want)
        << "not symmetric: " << c.local << " -> " << c.remote;
  }
}

// HBONE between two ztunnels of one node is not an app <-> ztunnel leg: never in the map, from
// either end, even between two pod addresses or on loopback.
TEST(FastPathScope, HbonePortIsNeverEligible) {
  const warren_fastpath_cfg knob = cfg("10.244.1.0/24");
  for (const char* ip : {"10.244.1.5", "127.0.0.1"}) {
    const char* other = ip[0] == '1' && ip[1] == '0' ? "10.244.1.6" : "127.0.0.1";
    const warren_addr client = addr(ip, 40000);
    const warren_addr hbone = addr(other, WARREN_PORT_HBONE);
    EXPECT_EQ(warren_fastpath_scope(&client, &hbone, &knob), WARREN_FASTPATH_NONE) << ip;
    EXPECT_EQ(warren_fastpath_scope(&hbone, &client, &knob), WARREN_FASTPATH_NONE) << ip;
    const warren_addr app = addr(other, 15001);
    EXPECT_NE(warren_fastpath_scope(&client, &app, &knob), WARREN_FASTPATH_NONE)
        << ip << ": the same pair on another port is eligible";
  }
}

TEST(FastPathScope, MixedFamiliesAndUnknownFamiliesAreNeverEligible) {
  const warren_fastpath_cfg knob = cfg("");
  warren_addr v4 = addr("127.0.0.1", 1);
  warren_addr v6 = addr("::1", 2);
  EXPECT_EQ(warren_fastpath_scope(&v4, &v6, &knob), WARREN_FASTPATH_NONE);
  warren_addr odd = v4;
  odd.family = 1;  // AF_UNIX
  EXPECT_EQ(warren_fastpath_scope(&odd, &odd, &knob), WARREN_FASTPATH_NONE);
}

TEST(FastPathKey, PeerKeyIsTheReverseAndCookieOnlyForLoopback) {
  const warren_addr client = addr("10.244.1.5", 40000);
  const warren_addr server = addr("10.244.1.6", 8080);
  warren_sock_key own{}, peer_of_server{};
  // The client inserts itself under (client, server); the server looks its peer up under the
  // reversed pair of its own addresses: the same bytes.
  warren_fastpath_key(WARREN_FASTPATH_POD, 77, &client, &server, &own);
  warren_fastpath_key(WARREN_FASTPATH_POD, 99, &client, &server, &peer_of_server);
  EXPECT_EQ(std::memcmp(&own, &peer_of_server, sizeof(own)), 0)
      << "pod pairs ignore the netns cookie (the two ends live in different netns)";
  EXPECT_EQ(own.netns_cookie, 0u);
  EXPECT_EQ(own.local.port, 40000);
  EXPECT_EQ(own.remote.port, 8080);

  const warren_addr lo_client = addr("127.0.0.1", 40000);
  const warren_addr lo_server = addr("127.0.0.1", 15001);
  warren_sock_key a{}, b{};
  warren_fastpath_key(WARREN_FASTPATH_LOOPBACK, 5, &lo_client, &lo_server, &a);
  warren_fastpath_key(WARREN_FASTPATH_LOOPBACK, 6, &lo_client, &lo_server, &b);
  EXPECT_EQ(a.netns_cookie, 5u);
  EXPECT_NE(std::memcmp(&a, &b, sizeof(a)), 0) << "127.0.0.1 of two netns must not meet";
}

TEST(FastPathConfig, ParsesAndNormalisesThePodCidr) {
  auto c = fastPathConfig("10.244.1.77/24");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->pod_net.family, WARREN_AF_INET);
  EXPECT_EQ(c->pod_prefix_len, 24u);
  EXPECT_EQ(c->pod_net.addr[0], htonl(0x0af40100)) << "host bits cleared";
  auto v6 = fastPathConfig("fd00:10:244:1::9/64");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->pod_net.family, WARREN_AF_INET6);
  EXPECT_EQ(v6->pod_prefix_len, 64u);
  EXPECT_EQ(v6->pod_net.addr[2], 0u);
  EXPECT_EQ(v6->pod_net.addr[3], 0u);
  auto none = fastPathConfig("");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->pod_net.family, 0);
  auto odd = fastPathConfig("10.244.1.0/17");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->pod_net.addr[0], htonl(0x0af40000));
}

TEST(FastPathConfig, RejectsGarbageNamingIt) {
  for (const std::string bad : {"10.244.1.0", "10.244.1.0/33", "10.244.1.0/", "10.244.1.0/x",
                                "10.244.1.0/-1", "nope/24", "fd00::/129", "/24"}) {
    auto c = fastPathConfig(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message().find("'" + bad + "'"), std::string::npos) << c.error().message();
  }
}

// One message through the two-step decision, as sk_msg.bpf.c runs it: returns 1 when it was
// redirected (the peer exists: `peer_found`).
int sendOne(warren_sock_state& st, uint32_t size, bool peer_found, int* budget_spent) {
  if (!warren_fastpath_may_redirect(&st, size, budget_spent)) return 0;
  warren_fastpath_redirected(&st, size, peer_found ? 1 : 0);
  return peer_found ? 1 : 0;
}

TEST(FastPathMessage, Table) {
  constexpr uint64_t kBudget = WARREN_FASTPATH_REDIRECT_BUDGET;
  struct Case {
    const char* name;
    warren_sock_state before;
    uint32_t size;
    bool peer_found;
    int want_redirect;
    uint32_t want_mode;
    uint64_t want_redirected;
    int want_budget_spent;
  };
  const Case cases[] = {
      {"first message, peer there",
       {WARREN_SOCK_UNDECIDED, 0, 0},
       100,
       true,
       1,
       WARREN_SOCK_REDIRECT,
       100,
       0},
      {"first message, no peer: TCP for good",
       {WARREN_SOCK_UNDECIDED, 0, 0},
       100,
       false,
       0,
       WARREN_SOCK_TCP,
       0,
       0},
      {"redirecting, within budget",
       {WARREN_SOCK_REDIRECT, 0, 1000},
       500,
       true,
       1,
       WARREN_SOCK_REDIRECT,
       1500,
       0},
      {"redirecting, exactly to the budget",
       {WARREN_SOCK_REDIRECT, 0, kBudget - 10},
       10,
       true,
       1,
       WARREN_SOCK_REDIRECT,
       kBudget,
       0},
      {"redirecting, one byte past the budget: TCP now",
       {WARREN_SOCK_REDIRECT, 0, kBudget - 10},
       11,
       true,
       0,
       WARREN_SOCK_TCP,
       kBudget - 10,
       1},
      {"budget spent: TCP even for one byte",
       {WARREN_SOCK_TCP, 0, kBudget},
       1,
       true,
       0,
       WARREN_SOCK_TCP,
       kBudget,
       0},
      {"TCP once: never redirected again",
       {WARREN_SOCK_TCP, 0, 0},
       1,
       true,
       0,
       WARREN_SOCK_TCP,
       0,
       0},
      {"redirecting, peer closed: this message via TCP, mode kept",
       {WARREN_SOCK_REDIRECT, 0, 1000},
       10,
       false,
       0,
       WARREN_SOCK_REDIRECT,
       1000,
       0},
      {"undecided, first message larger than the budget",
       {WARREN_SOCK_UNDECIDED, 0, 0},
       static_cast<uint32_t>(kBudget + 1),
       true,
       0,
       WARREN_SOCK_TCP,
       0,
       0},
  };
  for (const auto& c : cases) {
    warren_sock_state st = c.before;
    int spent = -1;
    EXPECT_EQ(sendOne(st, c.size, c.peer_found, &spent), c.want_redirect) << c.name;
    EXPECT_EQ(st.mode, c.want_mode) << c.name;
    EXPECT_EQ(st.redirected, c.want_redirected) << c.name;
    EXPECT_EQ(spent, c.want_budget_spent) << c.name;
  }
}

// A bulk sender: 64 KiB messages forever. It redirects exactly the budget's worth, then every
// later byte takes TCP (flow-controlled), and the switch is counted once.
TEST(FastPathMessage, BulkSenderStopsRedirectingAtTheBudget) {
  warren_sock_state st{WARREN_SOCK_UNDECIDED, 0, 0};
  uint64_t redirected = 0, via_tcp = 0;
  int switches = 0;
  for (int i = 0; i < 1000; ++i) {
    int spent = 0;
    if (sendOne(st, 64 << 10, true, &spent))
      redirected += 64 << 10;
    else
      via_tcp += 64 << 10;
    switches += spent;
  }
  EXPECT_EQ(redirected, WARREN_FASTPATH_REDIRECT_BUDGET);
  EXPECT_EQ(redirected + via_tcp, 1000ull * (64 << 10));
  EXPECT_EQ(switches, 1);
  EXPECT_EQ(st.mode, WARREN_SOCK_TCP);
}

TEST(BpfAddress, RoundTripsBothFamiliesInTheAbiByteOrder) {
  auto v4 = *net::SocketAddress::parse("10.244.1.5:8080");
  warren_addr a = toBpfAddress(v4);
  EXPECT_EQ(a.family, WARREN_AF_INET);
  EXPECT_EQ(a.addr[0], htonl(0x0af40105));  // network order
  EXPECT_EQ(a.port, 8080);                  // host order
  EXPECT_EQ(a.addr[1], 0u);
  EXPECT_EQ(fromBpfAddress(a), v4);
  auto v6 = *net::SocketAddress::parse("[fd00:10:244:1::9]:15008");
  warren_addr b = toBpfAddress(v6);
  EXPECT_EQ(b.family, WARREN_AF_INET6);
  EXPECT_EQ(b.addr[0], htonl(0xfd000010));
  EXPECT_EQ(b.addr[3], htonl(9));
  EXPECT_EQ(fromBpfAddress(b), v6);
}

}  // namespace
}  // namespace warren::redirect
