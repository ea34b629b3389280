#include "common/http/request_parser.h"

#include <gtest/gtest.h>

namespace warren::http {
namespace {

std::vector<HttpRequest> parseAll(RequestParser& p, std::string_view bytes) {
  std::vector<HttpRequest> out;
  p.feed(bytes, out);
  return out;
}

TEST(RequestParser, SimpleGetWithQueryAndHeaders) {
  RequestParser p;
  auto reqs =
      parseAll(p, "GET /api/v1/log?level=debug HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path, "/api/v1/log");
  EXPECT_EQ(reqs[0].query.at("level"), "debug");
  EXPECT_EQ(reqs[0].headers.at("host"), "x");
  EXPECT_EQ(reqs[0].headers.at("x-a"), "1, 2");
  EXPECT_TRUE(reqs[0].keep_alive);
  EXPECT_FALSE(p.failed());
  EXPECT_FALSE(p.midRequest());
}

TEST(RequestParser, ByteAtATimeAndPipelined) {
  const std::string two =
      "PUT /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nConnection: "
      "close\r\n\r\n";
  RequestParser p;
  std::vector<HttpRequest> out;
  for (char c : two) ASSERT_TRUE(p.feed(std::string_view(&c, 1), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].method, "PUT");
  EXPECT_EQ(out[0].body, "hello");
  EXPECT_TRUE(out[0].keep_alive);
  EXPECT_EQ(out[1].path, "/b");
  EXPECT_FALSE(out[1].keep_alive);
}

TEST(RequestParser, ChunkedBody) {
  RequestParser p;
  auto reqs = parseAll(
      p, "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "abcde");
}

TEST(RequestParser, Http10ClosesByDefault) {
  RequestParser p;
  auto reqs = parseAll(p, "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].keep_alive);
}

struct BadCase {
  const char* name;
  std::string bytes;
  int status;
};

TEST(RequestParser, BadInputGetsAClearStatus) {
  RequestLimits limits;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  limits.max_body_bytes = 8;
  std::string many_headers = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 5; ++i) many_headers += "h" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  const BadCase cases[] = {
      {"garbage", "\x16\x03\x01\x02\x00 hello", 400},
      {"no version", "GET /\r\n\r\n", 400},
      {"bad target", "GET http://x/ HTTP/1.1\r\n\r\n", 400},
      {"bad escape", "GET /a%zz HTTP/1.1\r\n\r\n", 400},
      {"connect", "CONNECT 1.2.3.4:80 HTTP/1.1\r\nHost: 1.2.3.4:80\r\n\r\n", 400},
      {"upgrade", "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", 400},
      {"long url", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n", 431},
      {"many headers", many_headers, 431},
      {"declared big body", "PUT / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", 413},
      {"chunked big body", "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n",
       413},
      {"both lengths", "PUT / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
  };
  for (const auto& c : cases) {
    RequestParser p(limits);
    std::vector<HttpRequest> out;
    EXPECT_FALSE(p.feed(c.bytes, out)) << c.name;
    EXPECT_TRUE(out.empty()) << c.name;
    ASSERT_TRUE(p.failed()) << c.name;
    EXPECT_EQ(p.failure().status, c.status) << c.name << ": " << p.failure().reason;
    EXPECT_FALSE(p.failure().reason.empty()) << c.name;
    // Once failed, further input is ignored rather than resurrecting the parser.
    EXPECT_FALSE(p.feed("GET / HTTP/1.1\r\n\r\n", out)) << c.name;
    EXPECT_TRUE(out.empty()) << c.name;
  }
}

TEST(RequestParser, RequestBeforeGarbageIsKept) {
  RequestParser p;
  std::vector<HttpRequest> out;
  EXPECT_FALSE(p.feed("GET /ok HTTP/1.1\r\n\r\n\x01\x02garbage", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, "/ok");
  EXPECT_EQ(p.failure().status, 400);
}

TEST(RequestParser, MidRequestTracksPartialInput) {
  RequestParser p;
  std::vector<HttpRequest> out;
  ASSERT_TRUE(p.feed("GET / HTTP/1.1\r\nHo", out));
  EXPECT_TRUE(p.midRequest());
  ASSERT_TRUE(p.feed("st: x\r\n\r\n", out));
  EXPECT_FALSE(p.midRequest());
  EXPECT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace warren::http
