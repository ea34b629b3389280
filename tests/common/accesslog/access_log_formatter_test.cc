#include "common/accesslog/access_log_formatter.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/accesslog/logfmt.h"

namespace warren::accesslog {
namespace {

ConnectionRecord fullRecord() {
  ConnectionRecord r;
  r.src_addr = "10.244.1.5:43210";
  r.src_workload = "sleep";
  r.src_namespace = "default";
  r.src_identity = "spiffe://cluster.local/ns/default/sa/sleep";
  r.dst_addr = "10.244.2.7:15008";
  r.dst_hbone_addr = "10.244.2.7:8080";
  r.dst_service = "echo.default.svc.cluster.local";
  r.dst_workload = "echo";
  r.dst_namespace = "default";
  r.dst_identity = "spiffe://cluster.local/ns/default/sa/echo";
  r.direction = "outbound";
  r.bytes_sent = 100;
  r.bytes_recv = 2048;
  r.duration = std::chrono::microseconds(12'345);
  return r;
}

TEST(AccessLog, ConnectionCompleteGolden) {
  EXPECT_EQ(formatConnectionComplete(fullRecord()),
            "connection complete src.addr=10.244.1.5:43210 src.workload=\"sleep\" "
            "src.namespace=\"default\" src.identity=\"spiffe://cluster.local/ns/default/sa/sleep\" "
            "dst.addr=10.244.2.7:15008 dst.hbone_addr=10.244.2.7:8080 "
            "dst.service=\"echo.default.svc.cluster.local\" dst.workload=\"echo\" "
            "dst.namespace=\"default\" dst.identity=\"spiffe://cluster.local/ns/default/sa/echo\" "
            "direction=\"outbound\" bytes_sent=100 bytes_recv=2048 duration=\"12ms\"");
}

TEST(AccessLog, DeniedPlaintextInboundGolden) {
  ConnectionRecord r;
  r.src_addr = "[fd00::1]:5000";
  r.dst_addr = "10.244.2.7:8080";
  r.dst_workload = "echo";
  r.dst_namespace = "default";
  r.direction = "inbound";
  r.flags = "DENY";
  r.error = "policy \"deny-all\" said \\no\\\nbye";
  r.duration = std::chrono::seconds(75) + std::chrono::milliseconds(5);
  EXPECT_EQ(formatConnectionComplete(r),
            "connection complete src.addr=[fd00::1]:5000 dst.addr=10.244.2.7:8080 "
            "dst.workload=\"echo\" dst.namespace=\"default\" direction=\"inbound\" bytes_sent=0 "
            "bytes_recv=0 duration=\"75.005s\" flags=\"DENY\" "
            "error=\"policy \\\"deny-all\\\" said \\\\no\\\\\\nbye\"");
}

TEST(AccessLog, DashFlagsAndOddAddressesAreHandled) {
  ConnectionRecord r;
  r.src_addr = "not an addr";
  r.flags = "-";
  r.error = std::string("ctl\x01", 4);
  EXPECT_EQ(formatConnectionComplete(r),
            "connection complete src.addr=\"not an addr\" bytes_sent=0 bytes_recv=0 "
            "duration=\"0ms\" error=\"ctl\\x01\"");
}

TEST(AccessLog, EscapesAtEitherEndAndSideBySide) {
  EXPECT_EQ(quoteValue(std::string("\"\x1f\\a\n", 5)), "\"\\\"\\x1f\\\\a\\n\"");
  EXPECT_EQ(quoteValue("plain"), "\"plain\"");
  EXPECT_EQ(quoteValue(""), "\"\"");
}

TEST(AccessLog, OpenedLine) {
  EXPECT_EQ(
      formatConnectionOpened(fullRecord()).rfind("connection opened src.addr=10.244.1.5:43210 ", 0),
      0u);
  EXPECT_EQ(formatConnectionOpened(fullRecord()).find("bytes_sent"), std::string::npos);
}

TEST(AccessLog, JsonCarriesEveryField) {
  auto r = fullRecord();
  r.flags = "CONNECT";
  r.error = "upstream refused";
  auto j = nlohmann::json::parse(formatConnectionCompleteJson(r));
  EXPECT_EQ(j["message"], "connection complete");
  for (const char* k : {"src.addr", "src.workload", "src.namespace", "src.identity", "dst.addr",
                        "dst.hbone_addr", "dst.service", "dst.workload", "dst.namespace",
                        "dst.identity", "direction", "flags", "error"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["bytes_sent"], 100);
  EXPECT_EQ(j["bytes_recv"], 2048);
  EXPECT_EQ(j["duration_ms"], 12);
  // Invalid UTF-8 from the network does not throw.
  r.src_workload = "\xff\xfe";
  EXPECT_NO_THROW(nlohmann::json::parse(formatConnectionCompleteJson(r)));
}

TEST(AccessLog, DurationFormat) {
  EXPECT_EQ(formatDuration(std::chrono::microseconds(999)), "0ms");
  EXPECT_EQ(formatDuration(std::chrono::milliseconds(9'999)), "9999ms");
  EXPECT_EQ(formatDuration(std::chrono::milliseconds(10'000)), "10.000s");
}

}  // namespace
}  // namespace warren::accesslog
