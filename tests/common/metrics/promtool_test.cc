// Checks our exposition with Prometheus' own linter (`promtool check metrics`, Debian package
// prometheus): a realistic registry — Istio TCP families, process metrics, a histogram and a
// label value needing every escape — must pass without a single complaint.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/metrics/istio_tcp_metrics.h"
#include "common/metrics/process_metrics.h"

namespace warren::metrics {
namespace {

std::string findPromtool() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

TEST(Promtool, ExpositionPassesCheckMetrics) {
  std::string promtool = findPromtool();
  if (promtool.empty()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
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

  std::string path = std::filesystem::temp_directory_path() /
                     ("warren-promtool-" + std::to_string(::getpid()) + ".txt");
  std::string out_path = path + ".out";
  {
    std::ofstream f(path);
    f << r.render();
  }
  std::string cmd = promtool + " check metrics < " + path + " > " + out_path + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream o(out_path);
  std::string output((std::istreambuf_iterator<char>(o)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  std::filesystem::remove(out_path);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << output;
  EXPECT_EQ(output, "") << output;
}

}  // namespace
}  // namespace warren::metrics
