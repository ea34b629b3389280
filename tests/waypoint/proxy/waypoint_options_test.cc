// warren-waypoint's flags: the tracing flags parsed into the options, and every bad value an
// error naming its flag.
#include "waypoint/proxy/waypoint_options.h"

#include <gtest/gtest.h>

namespace warren::waypoint {
namespace {

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--gateway", "shop/waypoint", "--pod-ip", "10.244.1.9"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(WaypointOptions, TracingOffByDefaultAndOnWithACollector) {
  auto plain = parseWaypointOptions(with({}));
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_FALSE(plain->tracing_otlp_endpoint);
  EXPECT_EQ(plain->tracing_sampling_percent, 1.0);

  auto traced = parseWaypointOptions(
      with({"--tracing-otlp-endpoint", "http://otel.observability", "--tracing-sampling", "12.5"}));
  ASSERT_TRUE(traced) << traced.error().message();
  ASSERT_TRUE(traced->tracing_otlp_endpoint);
  EXPECT_EQ(traced->tracing_otlp_endpoint->origin, "http://otel.observability:4318");
  EXPECT_EQ(traced->tracing_otlp_endpoint->path, "/v1/traces");
  EXPECT_EQ(traced->tracing_sampling_percent, 12.5);
}

TEST(WaypointOptions, JwksRefreshAndHeaderTimeout) {
  auto plain = parseWaypointOptions(with({}));
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->jwks_refresh, std::chrono::seconds(1200));  // Istio's 20 min
  EXPECT_EQ(plain->request_header_timeout, std::chrono::seconds(10));
  auto set = parseWaypointOptions(
      with({"--jwks-refresh-seconds", "60", "--request-header-timeout-seconds", "0"}));
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->jwks_refresh, std::chrono::seconds(60));
  EXPECT_EQ(set->request_header_timeout, std::chrono::seconds(0));  // no limit
}

TEST(WaypointOptions, AccessLogBatchedEverySecondUnlessTold) {
  auto plain = parseWaypointOptions(with({}));
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->access_log_flush, std::chrono::milliseconds(1000));
  auto each = parseWaypointOptions(with({"--access-log-flush-ms", "0"}));
  ASSERT_TRUE(each) << each.error().message();
  EXPECT_EQ(each->access_log_flush, std::chrono::milliseconds(0));  // a write per line
  EXPECT_EQ(plain->kernel_tls, tls::KernelTlsMode::kAuto);
  auto off = parseWaypointOptions(with({"--kernel-tls", "off"}));
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_EQ(off->kernel_tls, tls::KernelTlsMode::kOff);
}

TEST(WaypointOptions, BadValuesNameTheFlag) {
  struct Row {
    std::vector<std::string> args;
    std::string error_has;
  };
  for (const Row& row : std::vector<Row>{
           {{"--tracing-otlp-endpoint", "https://otel:4318"}, "--tracing-otlp-endpoint"},
           {{"--tracing-otlp-endpoint", "otel:4318"}, "--tracing-otlp-endpoint"},
           {{"--tracing-sampling", "101"}, "--tracing-sampling"},
           {{"--jwks-refresh-seconds", "0"}, "--jwks-refresh-seconds"},
           {{"--jwks-refresh-seconds", "soon"}, "--jwks-refresh-seconds"},
           {{"--request-header-timeout-seconds", "-3"}, "--request-header-timeout-seconds"},
           {{"--tracing-sampling", "-1"}, "--tracing-sampling"},
           {{"--tracing-sampling", "ten"}, "--tracing-sampling"},
           {{"--tracing-sampling"}, "--tracing-sampling: missing value"},
           {{"--metrics-port", "70000"}, "--metrics-port"},
           {{"--access-log-flush-ms", "60001"}, "--access-log-flush-ms"},
           {{"--access-log-flush-ms", "1s"}, "--access-log-flush-ms"},
           {{"--kernel-tls", "yes"}, "--kernel-tls 'yes': want auto or off"},
       }) {
    SCOPED_TRACE(row.args[0] + (row.args.size() > 1 ? " " + row.args[1] : ""));
    auto o = parseWaypointOptions(with(row.args));
    ASSERT_FALSE(o);
    EXPECT_NE(o.error().message().find(row.error_has), std::string::npos) << o.error().message();
  }
}

}  // namespace
}  // namespace warren::waypoint
