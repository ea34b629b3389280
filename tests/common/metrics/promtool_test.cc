// Checks our exposition with Prometheus' own linter (`promtool check metrics`, Debian package
// prometheus): a realistic registry — Istio TCP families, process metrics, a histogram and a
// label value needing every escape — must pass without a single complaint.
#include <gtest/gtest.h>

#include "common/metrics/istio_tcp_metrics.h"
#include "common/metrics/process_metrics.h"
#include "tests/common/metrics/promtool_check.h"

namespace warren::metrics {
namespace {

TEST(Promtool, ExpositionPassesCheckMetrics) {
  if (!testing::promtoolCheckMetrics(""))
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  Registry r;
  auto tcp = IstioTcpMetrics::create(r);
  ASSERT_TRUE(tcp);
  TrafficLabels l;
  l.reporter = "source";
  l.source.workload = "we\"ird\\name\nhere";
  l.connection_security_policy = "mutual_tls";
  auto c = tcp->forConnection(l);
  c.opened->inc();
  c.sent_bytes->inc(1234);
  registerProcessMetrics(r);
  auto h = r.histogram("warren_connection_duration_seconds", "Connection duration in seconds.",
                       {"direction"}, Histogram::durationSecondsBuckets());
  ASSERT_TRUE(h);
  (*(*h)->withLabels({"inbound"}))->observe(0.2);
  auto g = r.gauge("warren_enrolled_pods", "Pods enrolled in the mesh on this node.");
  ASSERT_TRUE(g);
  (*g)->get().set(4);

  auto check = testing::promtoolCheckMetrics(r.render());
  ASSERT_TRUE(check);
  EXPECT_EQ(check->exit_status, 0) << check->output;
  EXPECT_EQ(check->output, "");
}

}  // namespace
}  // namespace warren::metrics
