// Table tests of the HBONE request: addresses, headers, validation and status mapping.
#include <gtest/gtest.h>

#include <set>

#include "common/hbone/address.h"
#include "common/hbone/connect_request.h"

namespace warren::hbone {
namespace {

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

// Found by fuzz/hbone_connect_fuzz (seed found-baggage-empty-workload-name): an empty value
// set workload_type without a workload name, a baggage formatBaggage cannot say again.
TEST(HboneBaggage, AnEmptyValueIsAnAbsentField) {
  Baggage got = parseBaggage("k8s.deployment.name=;p=1,service.name=web,service.name=");
  EXPECT_EQ(got.workload_type, "");
  EXPECT_EQ(got.workload_name, "");
  EXPECT_EQ(got.service_name, "web");
  EXPECT_EQ(parseBaggage(formatBaggage(got)), got);
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
      net::SocketAddress::parse("[fd00::2]:8080").value(),
      net::SocketAddress::parse("[fd00::1]:41234").value(),
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
  ConnectRequest plain{net::SocketAddress::parse("10.0.0.2:80").value(),
                       net::SocketAddress::parse("10.0.0.1:5000").value(),
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

TEST(HboneParseConnect, MethodAndAuthorityTable) {
  struct Case {
    std::string_view name;
    http2::HeaderList headers;
    bool ok;
    ConnectError::Kind kind = ConnectError::Kind::kNotConnect;
  };
  const Case cases[] = {
      {"pod target", {{":method", "CONNECT"}, {":authority", "10.0.0.2:8080"}}, true},
      {"hostname", {{":method", "CONNECT"}, {":authority", "reviews.default.svc:9080"}}, true},
      {"v6", {{":method", "CONNECT"}, {":authority", "[fd00::2]:80"}}, true},
      {"GET",
       {{":method", "GET"}, {":authority", "10.0.0.2:8080"}, {":path", "/"}},
       false,
       ConnectError::Kind::kNotConnect},
      {"no method", {{":authority", "10.0.0.2:8080"}}, false, ConnectError::Kind::kNotConnect},
      {"lower-case connect",
       {{":method", "connect"}, {":authority", "10.0.0.2:8080"}},
       false,
       ConnectError::Kind::kNotConnect},
      {"no authority", {{":method", "CONNECT"}}, false, ConnectError::Kind::kBadAuthority},
      {"no port",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2"}},
       false,
       ConnectError::Kind::kBadAuthority},
      {"junk authority",
       {{":method", "CONNECT"}, {":authority", "%%%"}},
       false,
       ConnectError::Kind::kBadAuthority},
  };
  for (const auto& c : cases) {
    auto r = parseConnect(c.headers);
    EXPECT_EQ(r.has_value(), c.ok) << c.name;
    if (!c.ok && !r) {
      EXPECT_EQ(r.error().kind, c.kind) << c.name;
      EXPECT_FALSE(r.error().detail.empty()) << c.name;
    }
  }
}

TEST(HboneParseConnect, ParsedRequestCarriesTheOptionalHeaders) {
  ConnectRequest r{net::SocketAddress::parse("10.0.0.2:8080").value(),
                   net::SocketAddress::parse("10.0.0.1:41234").value(),
                   "reviews.default.svc.cluster.local",
                   {"c1", "default", "deployment", "pp", "pp", "v1", "r", "z"},
                   TraceParent::random(),
                   "net-b"};
  auto d = parseConnect(buildConnectHeaders(r));
  ASSERT_TRUE(d) << d.error().detail;
  EXPECT_EQ(d->forwarded_for, r.source);
  EXPECT_EQ(d->forwarded_host, r.service_host);
  EXPECT_EQ(d->baggage, r.baggage);
  EXPECT_EQ(d->traceparent, r.traceparent);
  EXPECT_EQ(d->forwarded_network, r.forwarded_network);
  EXPECT_EQ(d->authority, r.target);
}

}  // namespace
}  // namespace warren::hbone
