// RequestReader: the admin server's requests assembled from the common/http1 codec, one at a
// time, with the status each bad input gets.
#include "common/http/request_reader.h"

#include <gtest/gtest.h>

namespace warren::http {
namespace {

// Reads every complete request in `bytes`, as the server does: one, then the rest.
std::vector<HttpRequest> readAll(RequestReader& r, std::string_view bytes) {
  std::vector<HttpRequest> out;
  while (true) {
    std::optional<HttpRequest> req;
    size_t used = r.read(bytes, req);
    bytes.remove_prefix(used);
    if (!req) break;
    out.push_back(std::move(*req));
  }
  return out;
}

TEST(RequestReader, SimpleGetWithQueryAndHeaders) {
  RequestReader r;
  auto reqs =
      readAll(r, "GET /api/v1/log?level=debug HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path, "/api/v1/log");
  EXPECT_EQ(reqs[0].query.at("level"), "debug");
  EXPECT_EQ(reqs[0].headers.at("host"), "x");
  EXPECT_EQ(reqs[0].headers.at("x-a"), "1, 2");
  EXPECT_TRUE(reqs[0].keep_alive);
  EXPECT_FALSE(r.failed());
  EXPECT_FALSE(r.midRequest());
}

TEST(RequestReader, ByteAtATimeAndPipelinedOneAtATime) {
  const std::string two =
      "PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: "
      "x\r\nConnection: close\r\n\r\n";
  RequestReader r;
  std::vector<HttpRequest> out;
  for (char c : two) {
    std::optional<HttpRequest> req;
    EXPECT_EQ(r.read(std::string_view(&c, 1), req), 1u);
    if (req) out.push_back(std::move(*req));
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].method, "PUT");
  EXPECT_EQ(out[0].body, "hello");
  EXPECT_TRUE(out[0].keep_alive);
  EXPECT_EQ(out[1].path, "/b");
  EXPECT_FALSE(out[1].keep_alive);
  EXPECT_TRUE(r.closed());

  // Whole: read() stops after the first request; the second is the caller's to feed next.
  RequestReader whole;
  std::optional<HttpRequest> first;
  size_t used = whole.read(two, first);
  ASSERT_TRUE(first);
  EXPECT_EQ(used, two.find("GET /b"));
}

TEST(RequestReader, ChunkedBody) {
  RequestReader r;
  auto reqs = readAll(r,
                      "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "abcde");
}

TEST(RequestReader, Http10ClosesByDefaultAndNeedsNoHost) {
  RequestReader r;
  auto reqs = readAll(r, "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].keep_alive);
}

TEST(RequestReader, ContinueIsAskedForOnlyWhileTheBodyIsMissing) {
  RequestReader r;
  std::optional<HttpRequest> req;
  r.read("PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", req);
  EXPECT_FALSE(req);
  EXPECT_TRUE(r.takeContinue());
  EXPECT_FALSE(r.takeContinue()) << "once";
  r.read("ok", req);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->body, "ok");
  // Head and body together: nothing to ask for.
  RequestReader whole;
  whole.read("PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
             req);
  ASSERT_TRUE(req);
  EXPECT_FALSE(whole.takeContinue());
}

struct BadCase {
  const char* name;
  std::string bytes;
  int status;
  const char* reason;  // a fragment of the reason the client reads
};

TEST(RequestReader, BadInputGetsAClearStatus) {
  RequestLimits limits;
  limits.max_request_line_bytes = 128;
  limits.max_header_bytes = 256;
  limits.max_headers = 4;
  limits.max_body_bytes = 8;
  std::string many_headers = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 4; ++i) many_headers += "h" + std::to_string(i) + ": v\r\n";
  many_headers += "\r\n";
  const BadCase cases[] = {
      {"garbage, no line end", "\x16\x03\x01\x02\x00 hello", 400, "invalid_method"},
      {"no version", "GET /\r\n\r\n", 400, "invalid_request_line"},
      {"absolute target", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "malformed request target"},
      {"bad escape", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request target"},
      {"no Host", "GET / HTTP/1.1\r\n\r\n", 400, "missing_host"},
      {"connect", "CONNECT 1.2.3.4:80 HTTP/1.1\r\nHost: 1.2.3.4:80\r\n\r\n", 501,
       "connect_not_supported"},
      {"upgrade", "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
       400, "Upgrade is not supported"},
      {"long url", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n", 414,
       "request_line_too_long"},
      {"long header", "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(300, 'v') + "\r\n\r\n", 431,
       "headers_too_large"},
      {"many headers", many_headers, 431, "too_many_headers"},
      {"declared big body", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n", 413,
       "body_too_large"},
      {"chunked big body",
       "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n", 413,
       "body_too_large"},
      {"both lengths",
       "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "content_length_with_transfer_encoding"},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400, "obs_fold"},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "unsupported_version"},
  };
  for (const auto& c : cases) {
    RequestReader r(limits);
    auto out = readAll(r, c.bytes);
    EXPECT_TRUE(out.empty()) << c.name;
    ASSERT_TRUE(r.failed()) << c.name;
    EXPECT_EQ(r.failure().status, c.status) << c.name << ": " << r.failure().reason;
    EXPECT_NE(r.failure().reason.find(c.reason), std::string::npos)
        << c.name << ": " << r.failure().reason;
    // Once failed, further input is ignored rather than resurrecting the reader.
    std::optional<HttpRequest> req;
    EXPECT_EQ(r.read("GET / HTTP/1.1\r\nHost: h\r\n\r\n", req), 0u) << c.name;
    EXPECT_FALSE(req) << c.name;
  }
}

TEST(RequestReader, RequestBeforeGarbageIsKept) {
  RequestReader r;
  auto out = readAll(r, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n\x01\x02garbage\r\n\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, "/ok");
  ASSERT_TRUE(r.failed());
  EXPECT_EQ(r.failure().status, 400);
}

TEST(RequestReader, MidRequestTracksPartialInput) {
  RequestReader r;
  std::optional<HttpRequest> req;
  r.read("GET / HTTP/1.1\r\nHo", req);
  EXPECT_FALSE(req);
  EXPECT_TRUE(r.midRequest());
  r.read("st: x\r\n\r\n", req);
  EXPECT_TRUE(req);
  EXPECT_FALSE(r.midRequest());
}

}  // namespace
}  // namespace warren::http
