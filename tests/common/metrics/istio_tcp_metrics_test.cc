#include "common/metrics/istio_tcp_metrics.h"

#include <gtest/gtest.h>

namespace warren::metrics {
namespace {

TEST(IstioTcpMetrics, LabelNamesMatchZtunnel) {
  const auto& names = trafficLabelNames();
  ASSERT_EQ(names.size(), 23u);
  EXPECT_EQ(names.front(), "reporter");
  EXPECT_EQ(names.back(), "connection_security_policy");
  for (const auto& n : names) EXPECT_TRUE(isValidLabelName(n)) << n;
}

TEST(IstioTcpMetrics, EmptyValuesAreUnknown) {
  TrafficLabels l;
  l.reporter = "source";
  auto v = trafficLabelValues(l);
  ASSERT_EQ(v.size(), trafficLabelNames().size());
  EXPECT_EQ(v[0], "source");
  EXPECT_EQ(v[1], "unknown");
  EXPECT_EQ(v[20], "tcp");
  EXPECT_EQ(v[21], "-");
  EXPECT_EQ(v[22], "unknown");
}

TEST(IstioTcpMetrics, CountsPerLabelSet) {
  Registry r;
  auto m = IstioTcpMetrics::create(r);
  ASSERT_TRUE(m) << m.error().message();
  TrafficLabels l;
  l.reporter = "destination";
  l.source.workload = "sleep";
  l.source.workload_namespace = "default";
  l.source.principal = "spiffe://cluster.local/ns/default/sa/sleep";
  l.destination.workload = "echo";
  l.destination.workload_namespace = "default";
  l.destination.principal = "spiffe://cluster.local/ns/default/sa/echo";
  l.destination_service.host = "echo.default.svc.cluster.local";
  l.connection_security_policy = "mutual_tls";
  auto c = m->forConnection(l);
  c.opened->inc();
  c.received_bytes->inc(100);
  c.sent_bytes->inc(200);
  c.closed->inc();
  auto again = m->forConnection(l);
  EXPECT_EQ(again.opened, c.opened);  // same series, same counter
  std::string text = r.render();
  const std::string series =
      "{reporter=\"destination\",source_workload=\"sleep\",source_canonical_service=\"unknown\","
      "source_canonical_revision=\"unknown\",source_workload_namespace=\"default\","
      "source_principal=\"spiffe://cluster.local/ns/default/sa/sleep\",source_app=\"unknown\","
      "source_version=\"unknown\",source_cluster=\"unknown\","
      "destination_service=\"echo.default.svc.cluster.local\","
      "destination_service_namespace=\"unknown\",destination_service_name=\"unknown\","
      "destination_workload=\"echo\",destination_canonical_service=\"unknown\","
      "destination_canonical_revision=\"unknown\",destination_workload_namespace=\"default\","
      "destination_principal=\"spiffe://cluster.local/ns/default/sa/echo\","
      "destination_app=\"unknown\",destination_version=\"unknown\","
      "destination_cluster=\"unknown\",request_protocol=\"tcp\",response_flags=\"-\","
      "connection_security_policy=\"mutual_tls\"}";
  EXPECT_NE(text.find("istio_tcp_connections_opened_total" + series + " 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("istio_tcp_connections_closed_total" + series + " 1\n"), std::string::npos);
  EXPECT_NE(text.find("istio_tcp_received_bytes_total" + series + " 100\n"), std::string::npos);
  EXPECT_NE(text.find("istio_tcp_sent_bytes_total" + series + " 200\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE istio_tcp_sent_bytes_total counter\n"), std::string::npos);
}

// The HTTP family shares the traffic labels and adds response_code and grpc_response_status
// right after request_protocol; grpc_response_status stays empty (not "unknown") off gRPC.
TEST(IstioLabels, RequestLabelsExtendTrafficLabels) {
  const auto& tcp = trafficLabelNames();
  const auto& http = requestLabelNames();
  ASSERT_EQ(http.size(), tcp.size() + 2);
  EXPECT_EQ(http[20], "request_protocol");
  EXPECT_EQ(http[21], "response_code");
  EXPECT_EQ(http[22], "grpc_response_status");
  EXPECT_EQ(http[23], "response_flags");
  EXPECT_EQ(http[24], "connection_security_policy");
  for (size_t i = 0; i < 21; ++i) EXPECT_EQ(http[i], tcp[i]);
  TrafficLabels l;
  l.reporter = "waypoint";
  l.request_protocol = "http";
  auto v = requestLabelValues(l, "200", "");
  ASSERT_EQ(v.size(), http.size());
  EXPECT_EQ(v[0], "waypoint");
  EXPECT_EQ(v[20], "http");
  EXPECT_EQ(v[21], "200");
  EXPECT_EQ(v[22], "");
  EXPECT_EQ(v[23], "-");
  EXPECT_EQ(requestLabelValues(l, "200", "14")[22], "14");
}

}  // namespace
}  // namespace warren::metrics
