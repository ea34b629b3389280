// The echo's HTTP/1.1 front end, fed bytes in memory (lab/echo/http1_echo_session.h):
// keep-alive, chunked and Content-Length bodies counted, pipelining one answer at a time,
// 100-continue, HEAD, Connection: close, and every refusal with the codec's status and rule.
#include "lab/echo/http1_echo_session.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "echo_responses.h"

namespace warren::echo {
namespace {

const EchoContext kContext{"ns", "", "echo", "echo-0"};

// Feeds `input` whole, collecting everything the session writes, as a connection would:
// after each answer, feed({}) goes on with buffered pipelined bytes.
struct Conversation {
  std::string written;
  bool closed = false;
  std::vector<std::chrono::milliseconds> delays;
  void run(Http1EchoSession& s, std::string_view input) {
    SessionOutput out = s.feed(input);
    for (;;) {
      written += out.bytes;
      if (out.reply) {
        delays.push_back(out.reply->delay);
        written += out.reply->bytes;
      }
      if (out.close) {
        closed = true;
        return;
      }
      if (!(out.reply && s.hasBuffered())) return;
      out = s.feed({});
    }
  }
};

std::vector<Response> read(const std::string& bytes, std::vector<std::string> methods) {
  ResponseReader reader;
  for (const auto& m : methods) reader.expect(m);
  reader.feed(bytes);
  return reader.responses;
}

TEST(Http1EchoSession, KeepAliveAndPipelining) {
  Http1EchoSession s(kContext, "10.0.0.1:1000");
  Conversation c;
  c.run(s,
        "GET /a HTTP/1.1\r\nHost: echo\r\n\r\n"
        "POST /b HTTP/1.1\r\nHost: echo\r\nContent-Length: 5\r\n\r\nhello"
        "PUT /c HTTP/1.1\r\nHost: echo:8080\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_FALSE(c.closed);
  auto rs = read(c.written, {"GET", "POST", "PUT"});
  ASSERT_EQ(rs.size(), 3u);
  auto a = nlohmann::json::parse(rs[0].body);
  auto b = nlohmann::json::parse(rs[1].body);
  auto p = nlohmann::json::parse(rs[2].body);
  EXPECT_EQ(a["path"], "/a");
  EXPECT_EQ(a["bodyBytes"], 0);
  EXPECT_EQ(b["method"], "POST");
  EXPECT_EQ(b["bodyBytes"], 5);
  EXPECT_EQ(p["path"], "/c");
  EXPECT_EQ(p["host"], "echo:8080");
  EXPECT_EQ(p["bodyBytes"], 7);  // de-chunked
  EXPECT_EQ(p["peer"], "10.0.0.1:1000");
  for (const auto& r : rs) {
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(r.header("content-type"), "application/json");
  }
}

TEST(Http1EchoSession, BytesArrivingOneAtATime) {
  Http1EchoSession s(kContext, "p");
  std::string input = "GET /slow HTTP/1.1\r\nHost: echo\r\nX-A: 1\r\n\r\n";
  Conversation c;
  for (char ch : input) c.run(s, std::string_view(&ch, 1));
  auto rs = read(c.written, {"GET"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(rs[0].body)["headers"]["X-A"][0], "1");
}

TEST(Http1EchoSession, ConnectionCloseAndHttp10) {
  {
    Http1EchoSession s(kContext, "p");
    Conversation c;
    c.run(s, "GET /x HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\nGET /y HTTP/1.1\r\n");
    EXPECT_TRUE(c.closed);
    auto rs = read(c.written, {"GET"});
    ASSERT_EQ(rs.size(), 1u);  // nothing after a close
    EXPECT_EQ(rs[0].header("connection"), "close");
  }
  {
    Http1EchoSession s(kContext, "p");
    Conversation c;
    c.run(s, "GET /old HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(c.closed);
    auto rs = read(c.written, {"GET"});
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(rs[0].body)["proto"], "HTTP/1.0");
  }
  {
    Http1EchoSession s(kContext, "p");
    Conversation c;
    c.run(s, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_FALSE(c.closed);
    EXPECT_NE(c.written.find("Connection: keep-alive\r\n"), std::string::npos);
  }
}

TEST(Http1EchoSession, HeadStatusAndDelay) {
  Http1EchoSession s(kContext, "p");
  Conversation c;
  c.run(s,
        "HEAD /h HTTP/1.1\r\nHost: echo\r\n\r\n"
        "GET /status/204 HTTP/1.1\r\nHost: echo\r\n\r\n"
        "GET /status/503 HTTP/1.1\r\nHost: echo\r\n\r\n"
        "GET /d?delay=20ms HTTP/1.1\r\nHost: echo\r\n\r\n");
  auto rs = read(c.written, {"HEAD", "GET", "GET", "GET"});
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].status, 200);
  EXPECT_EQ(rs[0].body, "");  // HEAD: the length of the echo, no body
  EXPECT_NE(rs[0].header("content-length"), "0");
  EXPECT_EQ(rs[1].status, 204);
  EXPECT_EQ(rs[1].header("content-length"), "<absent>");
  EXPECT_EQ(rs[2].status, 503);
  EXPECT_NE(c.written.find("HTTP/1.1 503 Service Unavailable\r\n"), std::string::npos);
  ASSERT_EQ(c.delays.size(), 4u);
  EXPECT_EQ(c.delays[3], std::chrono::milliseconds(20));
}

TEST(Http1EchoSession, ExpectContinue) {
  Http1EchoSession s(kContext, "p");
  SessionOutput head = s.feed(
      "POST /up HTTP/1.1\r\nHost: echo\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(head.bytes, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_FALSE(head.reply.has_value());
  SessionOutput body = s.feed("abc");
  EXPECT_EQ(body.bytes, "");
  ASSERT_TRUE(body.reply.has_value());
  auto rs = read(body.reply->bytes, {"POST"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(rs[0].body)["bodyBytes"], 3);
}

// Every refusal: the codec's status, its rule in the body, the connection closed.
TEST(Http1EchoSession, BadRequestsAreRefusedNamingTheRule) {
  struct Row {
    std::string input;
    int status;
    std::string rule;
  };
  const Row rows[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
       "duplicate_content_length"},
      {"GET / HTTP/1.1\r\n\r\n", 400, "missing_host"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "content_length_with_transfer_encoding"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
       "invalid_chunk_size"},
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "obs_fold"},
      {"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501, "connect"},
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "unsupported_version"},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "unsupported_version"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.input);
    Http1EchoSession s(kContext, "p");
    Conversation c;
    c.run(s, row.input);
    EXPECT_TRUE(c.closed);
    auto rs = read(c.written, {"GET"});
    ASSERT_EQ(rs.size(), 1u) << c.written;
    EXPECT_EQ(rs[0].status, row.status);
    EXPECT_NE(rs[0].body.find(row.rule), std::string::npos) << rs[0].body;
    EXPECT_EQ(rs[0].header("connection"), "close");
  }
}

TEST(Http1EchoSession, CutShortIsAnswered400) {
  Http1EchoSession s(kContext, "p");
  SessionOutput partial = s.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_FALSE(partial.reply.has_value());
  SessionOutput end = s.finish();
  EXPECT_TRUE(end.close);
  auto rs = read(end.bytes, {"POST"});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, 400);
  EXPECT_NE(rs[0].body.find("incomplete_message"), std::string::npos) << rs[0].body;
  // Between requests, a close is just a close.
  Http1EchoSession idle(kContext, "p");
  SessionOutput none = idle.finish();
  EXPECT_TRUE(none.close);
  EXPECT_EQ(none.bytes, "");
}

}  // namespace
}  // namespace warren::echo
