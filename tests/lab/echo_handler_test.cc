// The echo's answers (lab/echo/echo_handler.h), table by table: what echo-basic returns for
// the same request, plus Warren's bodyBytes/peer fields and the delay parser's refusals.
#include "lab/echo/echo_handler.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace warren::echo {
namespace {

EchoRequest get(std::string target, Fields headers = {}) {
  EchoRequest r;
  r.method = "GET";
  r.target = std::move(target);
  r.host = "echo";
  r.proto = "HTTP/1.1";
  r.headers = std::move(headers);
  r.peer = "10.244.1.5:40000";
  return r;
}

const EchoContext kContext{"gateway-conformance-mesh", "", "echo-v1", "echo-v1-0"};

std::string header(const EchoReply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "<absent>";
}

TEST(EchoHandler, EchoesRequestAndContextAsEchoBasic) {
  auto request = get("/v1/path?x=1&y=2", {{"Host", "echo"},
                                          {"user-agent", "curl"},
                                          {"x-header-add", "a"},
                                          {"X-Header-Add", "b"},
                                          {"Transfer-Encoding", "chunked"}});
  request.body_bytes = 17;
  EchoReply r = respond(request, kContext);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Content-Type"), "application/json");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["path"], "/v1/path?x=1&y=2");  // the target as sent, query included
  EXPECT_EQ(j["host"], "echo");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["proto"], "HTTP/1.1");
  EXPECT_EQ(j["namespace"], "gateway-conformance-mesh");
  EXPECT_EQ(j["service"], "echo-v1");
  EXPECT_EQ(j["pod"], "echo-v1-0");
  EXPECT_EQ(j["ingress"], "");
  EXPECT_EQ(j["sni"], "");
  EXPECT_EQ(j["bodyBytes"], 17);
  EXPECT_EQ(j["peer"], "10.244.1.5:40000");
  // Go's http.Header: canonical names, one value per field line, no Host / Transfer-Encoding.
  nlohmann::json want_headers = {{"User-Agent", {"curl"}}, {"X-Header-Add", {"a", "b"}}};
  EXPECT_EQ(j["headers"], want_headers);
  // echo-basic's field order (json.MarshalIndent of its struct), one-space indent.
  EXPECT_EQ(r.body.substr(0, 12), "{\n \"path\": \"");
}

TEST(EchoHandler, CanonicalHeaderNames) {
  const std::pair<std::string, std::string> rows[] = {
      {"x-header-set", "X-Header-Set"},
      {"X-HEADER-SET", "X-Header-Set"},
      {"content-length", "Content-Length"},
      {"a", "A"},
      {"x--y", "X--Y"},
      {"1abc-def", "1abc-Def"},
      {"bad header", "bad header"},  // not a token: unchanged, as Go does
  };
  for (const auto& [in, want] : rows) EXPECT_EQ(canonicalHeaderName(in), want) << in;
}

TEST(EchoHandler, HealthAndStatus) {
  struct Row {
    std::string target;
    int status;
    std::string body_contains;
  };
  const Row rows[] = {
      {"/health", 200, "OK"},
      {"/health?probe=1", 200, "OK"},
      {"//health", 200, "OK"},  // echo-basic merges "//" before routing
      {"/status/200", 200, ""},
      {"/status/404", 404, ""},
      {"/status/503", 503, ""},
      {"/status/418", 418, ""},
      {"/status/20", 400, "three-digit"},
      {"/status/2000", 400, "three-digit"},
      {"/status/abc", 400, "three-digit"},
      {"/status/200?x=1", 400, "three-digit"},  // the target counts, query included
      {"/status/099", 400, "not a final status"},
      {"/status/101", 400, "not a final status"},
      {"/status/600", 400, "not a final status"},
      {"/statusx/200", 200, "\"path\""},  // not under /status/: echoed
      {"/healthz", 200, "\"path\""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.target);
    EchoReply r = respond(get(row.target), kContext);
    EXPECT_EQ(r.status, row.status);
    if (row.body_contains.empty()) {
      EXPECT_EQ(r.body, "");
    } else {
      EXPECT_NE(r.body.find(row.body_contains), std::string::npos) << r.body;
    }
  }
}

TEST(EchoHandler, EchoSetHeaderBecomesResponseFields) {
  EchoReply r = respond(get("/", {{"X-Echo-Set-Header", "X-Foo: one, X-Bar:two"},
                                  {"x-echo-set-header", "X-Foo: again"}}),
                        kContext);
  EXPECT_EQ(header(r, "X-Foo"), "one,again");
  EXPECT_EQ(header(r, "X-Bar"), "two");
  EchoReply bad = respond(get("/", {{"X-Echo-Set-Header", "bad name: v"}}), kContext);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("'bad name' is not a field name"), std::string::npos) << bad.body;
}

TEST(EchoHandler, DelayFromQuery) {
  EXPECT_EQ(respond(get("/?delay=150ms"), kContext).delay, std::chrono::milliseconds(150));
  EXPECT_EQ(respond(get("/?x=1&delay=1.5s"), kContext).delay, std::chrono::milliseconds(1500));
  EXPECT_EQ(respond(get("/"), kContext).delay, std::chrono::milliseconds(0));
  EchoReply bad = respond(get("/?delay=soon"), kContext);
  EXPECT_EQ(bad.status, 500);  // echo-basic's processError
  EXPECT_EQ(nlohmann::json::parse(bad.body)["message"],
            "delay 'soon': expected a number at 'soon'");
}

TEST(EchoHandler, ParseDelay) {
  using std::chrono::milliseconds;
  const std::pair<std::string, milliseconds> good[] = {
      {"0", milliseconds(0)},       {"10ms", milliseconds(10)},      {"1s", milliseconds(1000)},
      {"1.5s", milliseconds(1500)}, {"2m10s", milliseconds(130000)}, {"0.001h", milliseconds(3600)},
      {"500us", milliseconds(1)},  // rounded up: a delay asked for is never skipped
      {"+3ms", milliseconds(3)},    {".5s", milliseconds(500)},
  };
  for (const auto& [text, want] : good) {
    auto d = parseDelay(text);
    ASSERT_TRUE(d.has_value()) << text << ": " << d.error().message();
    EXPECT_EQ(*d, want) << text;
  }
  const std::pair<std::string, std::string> bad[] = {
      {"", "empty duration"},     {"10", "missing unit"},     {"-1s", "negative"},
      {"1d", "unknown unit 'd'"}, {"s", "expected a number"}, {"1..2s", "expected a number"},
      {"6m", "limit of 300 s"},   {"1h", "limit of 300 s"},
  };
  for (const auto& [text, why] : bad) {
    auto d = parseDelay(text);
    ASSERT_FALSE(d.has_value()) << text;
    EXPECT_NE(d.error().message().find(why), std::string::npos) << d.error().message();
  }
}

TEST(EchoHandler, FailFirstFailsAKnownNumberOfTimesPerKey) {
  EchoContext ctx;  // its own counts
  struct Row {
    std::string target;
    int status;
    std::string body_has;
  };
  const Row rows[] = {
      {"/r?failFirst=2&failKey=a", 503, "failing request 1 of 2 for key 'a'"},
      {"/r?failFirst=2&failKey=b&failStatus=500", 500, "failing request 1 of 2 for key 'b'"},
      {"/r?failFirst=2&failKey=a", 503, "failing request 2 of 2"},
      {"/r?failFirst=2&failKey=a", 200, "\"failKeySeen\": 3"},
      {"/r?failFirst=2&failKey=a", 200, "\"failKeySeen\": 4"},
      {"/r?failFirst=0", 200, "\"failKeySeen\": 1"},
      {"/r?failFirst=x", 400, "failFirst: 'x' is not a count"},
      {"/r?failFirst=1&failStatus=200", 400, "failStatus: '200' is not 400..599"},
  };
  for (const Row& row : rows) {
    EchoRequest req;
    req.method = "GET";
    req.target = row.target;
    EchoReply r = respond(req, ctx);
    EXPECT_EQ(r.status, row.status) << row.target;
    EXPECT_NE(r.body.find(row.body_has), std::string::npos) << row.target << ": " << r.body;
  }
  EchoRequest plain;
  plain.method = "GET";
  plain.target = "/r";
  EXPECT_EQ(nlohmann::json::parse(respond(plain, ctx).body).contains("failKeySeen"), false);
}

TEST(EchoHandler, FailPodFailsOnThatPodOnly) {
  EchoContext ctx;
  ctx.pod = "echo-1";
  struct Row {
    std::string target;
    int status;
    std::string body_has;
  };
  const Row rows[] = {
      {"/r?failPod=echo-1", 503, "echo: pod echo-1 fails on request"},
      {"/r?failPod=echo-1&failStatus=500", 500, "pod echo-1"},
      {"/r?failPod=echo-2", 200, "\"pod\": \"echo-1\""},
      {"/r?failPod=", 200, "\"pod\": \"echo-1\""},
      {"/r?failPod=echo-1&failStatus=99", 400, "failStatus: '99' is not 400..599"},
  };
  for (const Row& row : rows) {
    EchoRequest req;
    req.method = "GET";
    req.target = row.target;
    EchoReply r = respond(req, ctx);
    EXPECT_EQ(r.status, row.status) << row.target;
    EXPECT_NE(r.body.find(row.body_has), std::string::npos) << row.target << ": " << r.body;
  }
}

}  // namespace
}  // namespace warren::echo
