// The HTTP/1 serializer: exact bytes for each framing, every refusal named, and what it writes
// read back by the parser as the same message.
#include "common/http1/serializer.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/http1/parser.h"
#include "tests/common/http1/http1_test_events.h"

namespace warren::http1 {
namespace {

TEST(Http1SerializerTest, RequestWithContentLength) {
  Serializer s;
  std::string out;
  HeaderField fields[] = {{"Host", "svc.ns:8080"}, {"X-Request-Id", "abc"}};
  ASSERT_TRUE(s.requestHead(out, "POST", "/p?q=1", fields, BodyFraming::contentLength(5)));
  EXPECT_TRUE(s.inMessage());
  ASSERT_TRUE(s.body(out, "he"));
  ASSERT_TRUE(s.body(out, "llo"));
  ASSERT_TRUE(s.end(out));
  EXPECT_FALSE(s.inMessage());
  EXPECT_EQ(out,
            "POST /p?q=1 HTTP/1.1\r\nHost: svc.ns:8080\r\nX-Request-Id: abc\r\n"
            "Content-Length: 5\r\n\r\nhello");
}

TEST(Http1SerializerTest, ChunkedResponseWithTrailers) {
  Serializer s;
  std::string out;
  HeaderField fields[] = {{"Content-Type", "text/plain"}};
  ASSERT_TRUE(s.responseHead(out, 200, "OK", fields, BodyFraming::chunked()));
  ASSERT_TRUE(s.body(out, std::string(26, 'a')));
  ASSERT_TRUE(s.body(out, ""));  // nothing: an empty chunk would end the body
  HeaderField trailers[] = {{"grpc-status", "0"}};
  ASSERT_TRUE(s.end(out, trailers));
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            "1a\r\n" +
                std::string(26, 'a') + "\r\n0\r\ngrpc-status: 0\r\n\r\n");
}

TEST(Http1SerializerTest, InterimThenFinalAndHeadResponses) {
  Serializer s;
  std::string out(Serializer::kContinue);
  ASSERT_TRUE(s.responseHead(out, 103, "Early Hints", {}, BodyFraming::none()));
  EXPECT_FALSE(s.inMessage()) << "an interim head starts no message";
  ASSERT_TRUE(s.responseHead(out, 200, "OK", {}, BodyFraming::headResponse(1234)));
  auto refused = s.body(out, "x");
  ASSERT_FALSE(refused) << "a response to HEAD carries no body";
  ASSERT_TRUE(s.end(out));
  EXPECT_EQ(out,
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
}

TEST(Http1SerializerTest, UntilCloseSaysSo) {
  Serializer s;
  std::string out;
  ASSERT_TRUE(s.responseHead(out, 200, "OK", {}, BodyFraming::untilClose()));
  ASSERT_TRUE(s.body(out, "stream"));
  ASSERT_TRUE(s.end(out));
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstream");
}

TEST(Http1SerializerTest, EveryRefusalIsNamedAndWritesNothing) {
  HeaderField host[] = {{"Host", "h"}};
  struct Case {
    const char* name;
    std::function<Status(Serializer&, std::string&)> write;
    const char* says;
  };
  const Case cases[] = {
      {"CR LF in a value (response splitting)",
       [](Serializer& s, std::string& o) {
         HeaderField f[] = {{"Host", "h"}, {"X", "a\r\nSet-Cookie: evil"}};
         return s.requestHead(o, "GET", "/", f, BodyFraming::none());
       },
       "control byte"},
      {"NUL in a value",
       [](Serializer& s, std::string& o) {
         HeaderField f[] = {{"X", std::string_view("a\0b", 3)}};
         return s.responseHead(o, 200, "OK", f, BodyFraming::none());
       },
       "control byte"},
      {"field name not a token",
       [](Serializer& s, std::string& o) {
         HeaderField f[] = {{"Bad Name", "v"}};
         return s.responseHead(o, 200, "OK", f, BodyFraming::none());
       },
       "not a token"},
      {"caller's Content-Length",
       [](Serializer& s, std::string& o) {
         HeaderField f[] = {{"content-length", "3"}};
         return s.responseHead(o, 200, "OK", f, BodyFraming::contentLength(3));
       },
       "serializer writes framing"},
      {"caller's Transfer-Encoding",
       [&](Serializer& s, std::string& o) {
         HeaderField f[] = {{"Host", "h"}, {"Transfer-Encoding", "chunked"}};
         return s.requestHead(o, "POST", "/", f, BodyFraming::chunked());
       },
       "serializer writes framing"},
      {"no Host",
       [](Serializer& s, std::string& o) {
         return s.requestHead(o, "GET", "/", {}, BodyFraming::none());
       },
       "exactly one Host"},
      {"two Hosts",
       [](Serializer& s, std::string& o) {
         HeaderField f[] = {{"Host", "a"}, {"host", "b"}};
         return s.requestHead(o, "GET", "/", f, BodyFraming::none());
       },
       "exactly one Host"},
      {"method not a token",
       [&](Serializer& s, std::string& o) {
         return s.requestHead(o, "GE T", "/", host, BodyFraming::none());
       },
       "not a token"},
      {"space in target",
       [&](Serializer& s, std::string& o) {
         return s.requestHead(o, "GET", "/a b", host, BodyFraming::none());
       },
       "outside VCHAR"},
      {"request delimited by close",
       [&](Serializer& s, std::string& o) {
         return s.requestHead(o, "POST", "/", host, BodyFraming::untilClose());
       },
       "closing the connection"},
      {"101",
       [](Serializer& s, std::string& o) {
         return s.responseHead(o, 101, "Switching", {}, BodyFraming::none());
       },
       "upgrades are not supported"},
      {"status out of range",
       [](Serializer& s, std::string& o) {
         return s.responseHead(o, 99, "x", {}, BodyFraming::none());
       },
       "out of range"},
      {"CR in the reason",
       [](Serializer& s, std::string& o) {
         return s.responseHead(o, 200, "O\rK", {}, BodyFraming::none());
       },
       "reason phrase"},
      {"204 with a body",
       [](Serializer& s, std::string& o) {
         return s.responseHead(o, 204, "No Content", {}, BodyFraming::contentLength(1));
       },
       "no body"},
  };
  for (const auto& c : cases) {
    Serializer s;
    std::string out = "before";
    auto r = c.write(s, out);
    ASSERT_FALSE(r) << c.name;
    EXPECT_NE(r.error().message().find(c.says), std::string::npos)
        << c.name << ": " << r.error().message();
    EXPECT_EQ(out, "before") << c.name << ": a refused head writes nothing";
    EXPECT_FALSE(s.inMessage()) << c.name;
  }
}

TEST(Http1SerializerTest, TheBodyMustMatchItsFraming) {
  HeaderField host[] = {{"Host", "h"}};
  {
    Serializer s;
    std::string out;
    ASSERT_TRUE(s.requestHead(out, "PUT", "/", host, BodyFraming::contentLength(3)));
    ASSERT_TRUE(s.body(out, "ab"));
    auto longer = s.body(out, "cd");
    ASSERT_FALSE(longer);
    EXPECT_NE(longer.error().message().find("longer than its Content-Length 3"), std::string::npos);
    auto shorter = s.end(out);
    ASSERT_FALSE(shorter);
    EXPECT_NE(shorter.error().message().find("2 bytes is shorter"), std::string::npos);
    auto next = s.requestHead(out, "GET", "/", host, BodyFraming::none());
    ASSERT_FALSE(next) << "a new message before the last one ended";
  }
  {
    Serializer s;
    std::string out;
    ASSERT_TRUE(s.requestHead(out, "GET", "/", host, BodyFraming::none()));
    EXPECT_FALSE(s.body(out, "x"));
    HeaderField t[] = {{"T", "1"}};
    EXPECT_FALSE(s.end(out, t)) << "trailers need a chunked body";
    ASSERT_TRUE(s.end(out));
    EXPECT_FALSE(s.end(out)) << "ended twice";
  }
  {
    Serializer s;
    std::string out;
    ASSERT_TRUE(s.responseHead(out, 200, "OK", {}, BodyFraming::chunked()));
    HeaderField bad[] = {{"Content-Length", "5"}};
    auto r = s.end(out, bad);
    ASSERT_FALSE(r) << "framing fields are not trailers";
    EXPECT_TRUE(s.inMessage());
  }
}

// Whatever the serializer writes, the parser reads as the same message.
TEST(Http1SerializerTest, ParserReadsBackWhatTheSerializerWrote) {
  Serializer s;
  std::string wire;
  HeaderField req_fields[] = {{"Host", "a.b:80"}, {"X-Multi", "1, 2"}, {"X-Obs", "caf\xc3\xa9"}};
  ASSERT_TRUE(s.requestHead(wire, "POST", "/up", req_fields, BodyFraming::chunked()));
  ASSERT_TRUE(s.body(wire, "part one, "));
  ASSERT_TRUE(s.body(wire, std::string(5000, 'z')));
  HeaderField trailers[] = {{"X-Sum", "42"}};
  ASSERT_TRUE(s.end(wire, trailers));
  ASSERT_TRUE(s.requestHead(wire, "GET", "/down", req_fields, BodyFraming::none()));
  ASSERT_TRUE(s.end(wire));

  RecordedEvents ev;
  Parser p(Role::kRequest, ev);
  auto r = p.feed(wire);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, wire.size());
  ASSERT_EQ(ev.log.size(), 6u);
  EXPECT_EQ(ev.log[0],
            "head POST /up host=a.b:80 HTTP/1.1 chunked keep [Host=a.b:80] [X-Multi=1, 2] "
            "[X-Obs=caf\xc3\xa9] [Transfer-Encoding=chunked]");
  EXPECT_EQ(ev.body, "part one, " + std::string(5000, 'z'));
  EXPECT_EQ(ev.log[2], "trailers X-Sum=42");
  EXPECT_EQ(ev.log[4],
            "head GET /down host=a.b:80 HTTP/1.1 nobody keep [Host=a.b:80] "
            "[X-Multi=1, 2] [X-Obs=caf\xc3\xa9]");
}

}  // namespace
}  // namespace warren::http1
