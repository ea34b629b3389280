// Table tests of the HBONE request: addresses, headers, validation and status mapping.
#include <gtest/gtest.h>

#include <set>

#include "common/hbone/address.h"
#include "common/hbone/connect_request.h"
#include "common/hbone/inbound_validation.h"

namespace warren::hbone {
namespace {

IpAddress ip(std::string_view s) { return IpAddress::parse(s).value(); }

TEST(HboneAddress, IpAddressesParseAndCanonicalise) {
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

TEST(HboneAddress, AuthorityTable) {
  struct Case {
    std::string_view in;
    std::string_view out;    // re-formatted; empty = error
    std::string_view error;  // substring of the error
    bool hostname = false;
  };
  const Case cases[] = {
      {"10.0.0.2:8080", "10.0.0.2:8080", ""},
      {"[fd00::1]:8080", "[fd00::1]:8080", ""},
      {"[::ffff:10.0.0.2]:80", "10.0.0.2:80", ""},
      {"reviews.default.svc.cluster.local:9080", "reviews.default.svc.cluster.local:9080", "",
       true},
      {"10.0.0.2:0", "10.0.0.2:0", ""},
      {"10.0.0.2:65535", "10.0.0.2:65535", ""},
      {"10.0.0.2", "", "missing port"},
      {"10.0.0.2:", "", "missing port"},
      {"[fd00::1]", "", "missing port"},
      {"reviews.default", "", "missing port"},
      {"10.0.0.2:65536", "", "bad port"},
      {"10.0.0.2:80a", "", "bad port"},
      {"10.0.0.2:-1", "", "bad port"},
      {"10.0.0.2:+80", "", "bad port"},
      {"fd00::1:80", "", "brackets"},
      {"[fd00::1:80", "", "unclosed"},
      {"[10.0.0.2]:80", "", "IPv4"},
      {"[fd00::1]x80", "", "expected ':'"},
      {"10.0.0.300:80", "", "bad IPv4"},
      {"bad_host:80", "", "bad host"},
      {"-bad.host:80", "", "bad host"},
      {"", "", "empty"},
  };
  for (const auto& c : cases) {
    auto r = parseAuthority(c.in);
    if (c.out.empty()) {
      ASSERT_FALSE(r.has_value()) << c.in;
      EXPECT_NE(r.error().message().find(c.error), std::string::npos)
          << c.in << ": " << r.error().message();
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    } else {
      ASSERT_TRUE(r.has_value()) << c.in << ": " << r.error().message();
      EXPECT_EQ(authorityToString(*r), c.out);
      EXPECT_EQ(std::holds_alternative<HostPort>(*r), c.hostname) << c.in;
    }
  }
}

TEST(HboneBaggage, FormatsKnownKeysInOrderAndRoundTrips) {
  Baggage b{"Kubernetes", "default", "deployment", "reviews-v1",
            "reviews",    "v1",      "us-east1",   "us-east1-b"};
  std::string s = formatBaggage(b);
  EXPECT_EQ(s,
            "k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=reviews-"
            "v1,service.name=reviews,service.version=v1,cloud.region=us-east1,"
            "cloud.availability_zone=us-east1-b");
  EXPECT_EQ(parseBaggage(s), b);
  EXPECT_EQ(formatBaggage({}), "");
  Baggage partial;
  partial.namespace_name = "ns";
  partial.workload_type = "pod";
  partial.workload_name = "p";
  EXPECT_EQ(formatBaggage(partial), "k8s.namespace.name=ns,k8s.pod.name=p");
}

TEST(HboneBaggage, EncodesUnsafeValuesAndParsesLeniently) {
  Baggage b;
  b.service_name = "a b,c;d%e\"";
  std::string s = formatBaggage(b);
  EXPECT_EQ(s, "service.name=a%20b%2Cc%3Bd%25e%22");
  EXPECT_EQ(parseBaggage(s).service_name, "a b,c;d%e\"");
  Baggage got = parseBaggage(" service.name = x ;prop=1, junk, unknown.key=y,=z, cloud.region=r");
  EXPECT_EQ(got.service_name, "x");
  EXPECT_EQ(got.region, "r");
  EXPECT_EQ(parseBaggage("k8s.job.name=j").workload_type, "job");
}

TEST(HboneTraceParent, RandomIsFreshAndWellFormed) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = TraceParent::random();
    std::string s = t.toString();
    ASSERT_EQ(s.size(), 55u);
    EXPECT_TRUE(s.starts_with("00-"));
    EXPECT_TRUE(s.ends_with("-00"));
    EXPECT_EQ(TraceParent::parse(s).value(), t);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(HboneTraceParent, ParseTable) {
  struct Case {
    std::string_view in;
    bool ok;
  };
  const Case cases[] = {
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
      {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", false},  // version
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-00", false},  // zero trace id
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-00", false},  // zero parent
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-00", false},  // upper case
      {"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-00", false},   // short
      {"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-00", false},
      {"", false},
  };
  for (const auto& c : cases) EXPECT_EQ(TraceParent::parse(c.in).has_value(), c.ok) << c.in;
}

TEST(HboneForwarded, ParseTable) {
  struct Case {
    std::string_view in;
    std::string_view for_addr;  // empty: none
    std::string_view host;
  };
  const Case cases[] = {
      {R"(for="10.0.0.1:3456")", "10.0.0.1:3456", ""},
      {R"(for="[fd00::1]:3456";host=reviews.default.svc.cluster.local)", "[fd00::1]:3456",
       "reviews.default.svc.cluster.local"},
      {R"(For=10.0.0.1:1; HOST="a.b")", "10.0.0.1:1", "a.b"},
      {R"(for=10.0.0.1)", "10.0.0.1:0", ""},
      {R"(for="unknown")", "", ""},
      {R"(for="10.0.0.1:1", for="10.0.0.2:2")", "10.0.0.1:1", ""},
      {"", "", ""},
  };
  for (const auto& c : cases) {
    Forwarded f = parseForwarded(c.in);
    EXPECT_EQ(f.for_addr ? f.for_addr->toString() : "", c.for_addr) << c.in;
    EXPECT_EQ(f.host.value_or(""), c.host) << c.in;
  }
}

TEST(HboneRequest, BuildsTheHeaderBlock) {
  ConnectRequest r{
      SocketAddress::parse("[fd00::2]:8080").value(),
      SocketAddress::parse("[fd00::1]:41234").value(),
      "reviews.default.svc.cluster.local",
      {"c1", "default", "deployment", "productpage-v1", "productpage", "v1", "", ""},
      TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").value(),
      std::nullopt};
  http2::HeaderList want = {
      {":method", "CONNECT"},
      {":authority", "[fd00::2]:8080"},
      {"forwarded", R"(for="[fd00::1]:41234";host=reviews.default.svc.cluster.local)"},
      {"baggage",
       "k8s.cluster.name=c1,k8s.namespace.name=default,k8s.deployment.name=productpage-v1,"
       "service.name=productpage,service.version=v1"},
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
  };
  EXPECT_EQ(buildConnectHeaders(r), want);

  // Pod-addressed, no baggage, double-HBONE network.
  ConnectRequest plain{SocketAddress::parse("10.0.0.2:80").value(),
                       SocketAddress::parse("10.0.0.1:5000").value(),
                       std::nullopt,
                       {},
                       TraceParent::random(),
                       "network-2"};
  auto h = buildConnectHeaders(plain);
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[2].value, R"(for="10.0.0.1:5000")");
  EXPECT_EQ(h[3].name, "traceparent");
  EXPECT_EQ(h[4], (http2::Header{"x-forwarded-network", "network-2"}));
}

TEST(HboneInbound, StatusTable) {
  struct Case {
    InboundOutcome outcome;
    int status;
    std::string_view name;
  };
  const Case cases[] = {
      {InboundOutcome::kAccept, 200, "accept"},
      {InboundOutcome::kNotConnect, 400, "not_connect"},
      {InboundOutcome::kBadAuthority, 400, "bad_authority"},
      {InboundOutcome::kIpMismatch, 400, "ip_mismatch"},
      {InboundOutcome::kIllegalPort, 503, "illegal_port"},
      {InboundOutcome::kUnknownService, 503, "unknown_service"},
      {InboundOutcome::kDenied, 401, "denied"},
      {InboundOutcome::kUpstreamFailed, 503, "upstream_failed"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(statusFor(c.outcome), c.status) << c.name;
    EXPECT_EQ(outcomeName(c.outcome), c.name);
  }
}

TEST(HboneInbound, ValidationTable) {
  const IpAddress local = ip("10.0.0.2");
  const IpAddress vip = ip("10.96.0.10");
  struct Case {
    std::string_view name;
    http2::HeaderList headers;
    bool app_tunnel = false;
    bool waypoint_of_vip = false;
    InboundOutcome want;
  };
  const Case cases[] = {
      {"pod target",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2:8080"}},
       false,
       false,
       InboundOutcome::kAccept},
      {"v4-mapped local",
       {{":method", "CONNECT"}, {":authority", "[::ffff:10.0.0.2]:8080"}},
       false,
       false,
       InboundOutcome::kAccept},
      {"GET",
       {{":method", "GET"}, {":authority", "10.0.0.2:8080"}, {":path", "/"}},
       false,
       false,
       InboundOutcome::kNotConnect},
      {"no method", {{":authority", "10.0.0.2:8080"}}, false, false, InboundOutcome::kNotConnect},
      {"lower-case connect",
       {{":method", "connect"}, {":authority", "10.0.0.2:8080"}},
       false,
       false,
       InboundOutcome::kNotConnect},
      {"no authority", {{":method", "CONNECT"}}, false, false, InboundOutcome::kBadAuthority},
      {"no port",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2"}},
       false,
       false,
       InboundOutcome::kBadAuthority},
      {"junk authority",
       {{":method", "CONNECT"}, {":authority", "%%%"}},
       false,
       false,
       InboundOutcome::kBadAuthority},
      {"other ip",
       {{":method", "CONNECT"}, {":authority", "10.0.0.9:8080"}},
       false,
       false,
       InboundOutcome::kIpMismatch},
      {"other ip, app tunnel",
       {{":method", "CONNECT"}, {":authority", "10.0.0.9:8080"}},
       true,
       false,
       InboundOutcome::kAccept},
      {"vip, we are its waypoint",
       {{":method", "CONNECT"}, {":authority", "10.96.0.10:80"}},
       false,
       true,
       InboundOutcome::kAccept},
      {"vip, not its waypoint",
       {{":method", "CONNECT"}, {":authority", "10.96.0.10:80"}},
       false,
       false,
       InboundOutcome::kIpMismatch},
      {"other ip, waypoint of another",
       {{":method", "CONNECT"}, {":authority", "10.0.0.9:80"}},
       false,
       true,
       InboundOutcome::kIpMismatch},
      {"port 15008",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2:15008"}},
       false,
       false,
       InboundOutcome::kIllegalPort},
      {"port 15001",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2:15001"}},
       false,
       false,
       InboundOutcome::kIllegalPort},
      {"port 15006",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2:15006"}},
       false,
       false,
       InboundOutcome::kIllegalPort},
      {"mismatch wins over illegal port",
       {{":method", "CONNECT"}, {":authority", "10.0.0.9:15008"}},
       false,
       false,
       InboundOutcome::kIpMismatch},
      {"hostname goes on to resolution",
       {{":method", "CONNECT"}, {":authority", "reviews.default.svc.cluster.local:9080"}},
       false,
       false,
       InboundOutcome::kAccept},
  };
  for (const auto& c : cases) {
    InboundContext ctx;
    ctx.local_ip = local;
    ctx.application_tunnel = c.app_tunnel;
    if (c.waypoint_of_vip) ctx.is_waypoint_for = [&](const IpAddress& a) { return a == vip; };
    InboundDecision d = validateInbound(c.headers, ctx);
    EXPECT_EQ(d.outcome, c.want) << c.name << ": " << d.detail;
    if (d.outcome != InboundOutcome::kAccept) {
      EXPECT_FALSE(d.detail.empty()) << c.name;
    }
  }
}

TEST(HboneInbound, ParsedRequestCarriesTheOptionalHeaders) {
  ConnectRequest r{SocketAddress::parse("10.0.0.2:8080").value(),
                   SocketAddress::parse("10.0.0.1:41234").value(),
                   "reviews.default.svc.cluster.local",
                   {"c1", "default", "deployment", "pp", "pp", "v1", "r", "z"},
                   TraceParent::random(),
                   std::nullopt};
  InboundContext ctx;
  ctx.local_ip = ip("10.0.0.2");
  InboundDecision d = validateInbound(buildConnectHeaders(r), ctx);
  ASSERT_EQ(d.outcome, InboundOutcome::kAccept) << d.detail;
  ASSERT_TRUE(d.request.has_value());
  EXPECT_EQ(d.request->forwarded_for, r.source);
  EXPECT_EQ(d.request->forwarded_host, r.service_host);
  EXPECT_EQ(d.request->baggage, r.baggage);
  EXPECT_EQ(d.request->traceparent, r.traceparent);
  EXPECT_EQ(std::get<SocketAddress>(d.request->authority), std::get<SocketAddress>(r.target));
}

}  // namespace
}  // namespace warren::hbone
