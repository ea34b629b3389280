#include "bench/tools/http1_response.h"

#include <gtest/gtest.h>

#include <string>

namespace warren::bench {
namespace {

const std::string kResp =
    "HTTP/1.1 200 OK\r\nServer: nginx\r\ncontent-length: 5\r\nConnection: keep-alive\r\n\r\nhello";

TEST(Http1Response, CompleteResponse) {
  auto r = parseHttp1Response(kResp);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->status, 200);
  EXPECT_EQ((*r)->body_bytes, 5u);
  EXPECT_EQ((*r)->total(), kResp.size());
}

TEST(Http1Response, EveryProperPrefixIsIncomplete) {
  for (size_t n = 0; n < kResp.size(); ++n) {
    auto r = parseHttp1Response(std::string_view(kResp).substr(0, n));
    ASSERT_TRUE(r) << n << ": " << r.error().message();
    EXPECT_FALSE(r->has_value()) << n;
  }
}

TEST(Http1Response, PipelinedBytesAfterTheFirstAreLeftAlone) {
  auto r = parseHttp1Response(kResp + kResp.substr(0, 10));
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ((*r)->total(), kResp.size());
}

TEST(Http1Response, NonSuccessStatusIsParsed) {
  auto r = parseHttp1Response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ((*r)->status, 404);
  EXPECT_EQ((*r)->body_bytes, 0u);
}

TEST(Http1Response, MalformedIsAnErrorNamingTheProblem) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {"SSH-2.0-OpenSSH\r\n", "not an HTTP response"},
      {"HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx", "bad status code"},
      {"HTTP/2 200\r\n\r\n", "bad status line"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked"},
      {"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "bad Content-Length"},
      {"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "no Content-Length"},
      {"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", "without ':'"},
      {"HTTP/1.1 200 OK\r\n" + std::string(17000, 'a'), "exceed"},
  };
  for (const auto& c : cases) {
    auto r = parseHttp1Response(c.in);
    ASSERT_FALSE(r) << c.in;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace warren::bench
