// The HTTP/1 parser: conversations compared event by event, fed whole and byte by byte; the
// request-smuggling and limit rules as one table row each, pinned to the exact ParseError.
#include "common/http1/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/common/http1/http1_test_events.h"

namespace warren::http1 {
namespace {

using Log = std::vector<std::string>;

struct Outcome {
  Log log;
  std::string body;
  std::optional<ParseFailure> failure;
  size_t consumed = 0;
};

// Feeds `bytes` in pieces of `step` bytes (0: all at once), then finish() when asked.
Outcome run(Role role, std::string_view bytes, size_t step = 0, ParserLimits limits = {},
            bool finish = false, std::vector<std::string> requests = {"GET"}) {
  RecordedEvents ev;
  Parser p(role, ev, limits);
  for (const auto& m : requests)
    if (role == Role::kResponse) p.expectResponse(m);
  Outcome out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t n = step == 0 ? bytes.size() - pos : std::min(step, bytes.size() - pos);
    auto r = p.feed(bytes.substr(pos, n));
    if (!r) {
      out.failure = r.error();
      break;
    }
    out.consumed += *r;
    pos += n;
    if (*r < n) break;  // closed: the rest is not for this parser
  }
  if (finish && !out.failure) {
    auto r = p.finish();
    if (!r) out.failure = r.error();
  }
  out.log = ev.log;
  out.body = ev.body;
  return out;
}

// Whole, byte by byte, and in 7-byte pieces: the same events (or the same error).
void expectSameEverySplit(Role role, std::string_view bytes, const Log& want, bool finish = false,
                          std::vector<std::string> requests = {"GET"}) {
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
    auto o = run(role, bytes, step, {}, finish, requests);
    EXPECT_FALSE(o.failure) << "step " << step << ": " << o.failure->message();
    EXPECT_EQ(o.log, want) << "step " << step;
  }
}

TEST(Http1ParserTest, SimpleRequestWithFields) {
  expectSameEverySplit(
      Role::kRequest, "GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\nX-A:  1 \r\nx-b:\r\n\r\n",
      {"head GET /a?b=c host=example.com:8080 HTTP/1.1 nobody keep [Host=example.com:8080] "
       "[X-A=1] [x-b=]",
       "complete"});
}

TEST(Http1ParserTest, ContentLengthBody) {
  expectSameEverySplit(Role::kRequest,
                       "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
                       {"head PUT /x host=h HTTP/1.1 cl=11 keep [Host=h] [Content-Length=11]",
                        "body hello world", "complete"});
}

TEST(Http1ParserTest, ChunkedBodyWithExtensionsAndTrailers) {
  expectSameEverySplit(Role::kRequest,
                       "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5;name=value;q=\"a b\"\r\nhello\r\n"
                       "1 ;x\r\n \r\n"
                       "00005\r\nworld\r\n"
                       "0\r\nChecksum: abc\r\nX-T: 2\r\n\r\n",
                       {"head POST /c host=h HTTP/1.1 chunked keep [Host=h] "
                        "[Transfer-Encoding=chunked]",
                        "body hello world", "trailers Checksum=abc X-T=2", "complete"});
}

TEST(Http1ParserTest, ChunkedWithoutTrailersAndTransferEncodingListSpelling) {
  expectSameEverySplit(
      Role::kRequest,
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      {"head POST / host=h HTTP/1.1 chunked keep [Host=h] [Transfer-Encoding=, Chunked]",
       "body abc", "complete"});
}

TEST(Http1ParserTest, Http10DefaultsToCloseAndKeepAliveOptsIn) {
  expectSameEverySplit(Role::kRequest, "GET / HTTP/1.0\r\n\r\n",
                       {"head GET / HTTP/1.0 nobody close", "complete"});
  expectSameEverySplit(Role::kRequest,
                       "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
                       {"head GET / HTTP/1.0 nobody keep [Connection=Keep-Alive]", "complete",
                        "head GET /2 HTTP/1.0 nobody close", "complete"});
}

TEST(Http1ParserTest, ConnectionCloseStopsConsuming) {
  std::string in =
      "GET /1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
  RecordedEvents ev;
  Parser p(Role::kRequest, ev);
  auto r = p.feed(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, in.find("GET /2")) << "bytes after a closing message are not consumed";
  EXPECT_TRUE(p.closed());
  EXPECT_EQ(ev.log.size(), 2u);
  auto again = p.feed("GET /3 HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

TEST(Http1ParserTest, PipelinedRequestsOneAtATimeWithPause) {
  std::string in =
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
  RecordedEvents ev;
  ev.pause_on_complete = true;
  Parser p(Role::kRequest, ev);
  std::string_view rest = in;
  std::vector<size_t> consumed;
  for (int i = 0; i < 3; ++i) {
    auto r = p.feed(rest);
    ASSERT_TRUE(r) << r.error().message();
    consumed.push_back(*r);
    rest.remove_prefix(*r);
    EXPECT_EQ(ev.log.back(), "complete") << "paused right after message " << i;
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(consumed, (std::vector<size_t>{28, 51, 28}));
  EXPECT_EQ(ev.log.size(), 7u);
}

TEST(Http1ParserTest, PauseOnBodyIsBackpressure) {
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabcdef";
  RecordedEvents ev;
  ev.pause_on_body = true;
  Parser p(Role::kRequest, ev);
  // The body arrives in two reads; each piece pauses the parser after its event.
  auto r1 = p.feed(std::string_view(in).substr(0, in.size() - 3));
  ASSERT_TRUE(r1);
  EXPECT_EQ(*r1, in.size() - 3);
  EXPECT_EQ(ev.body, "abc");
  EXPECT_TRUE(p.midMessage());
  auto r2 = p.feed(std::string_view(in).substr(in.size() - 3));
  ASSERT_TRUE(r2);
  EXPECT_EQ(ev.body, "abcdef");
  EXPECT_NE(ev.log.back(), "complete") << "paused after the last body piece";
  auto r3 = p.feed({});  // resuming with no new bytes completes the message
  ASSERT_TRUE(r3);
  EXPECT_EQ(ev.log.back(), "complete");
  EXPECT_FALSE(p.midMessage());
}

TEST(Http1ParserTest, HeadAndBodyAreViewsIntoTheInputWhenItArrivedWhole) {
  std::string in = "PUT /zero-copy HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\ndata";
  RecordedEvents ev;
  Parser p(Role::kRequest, ev);
  ASSERT_TRUE(p.feed(in));
  EXPECT_EQ(ev.last_target, in.data() + 4);
  EXPECT_EQ(ev.last_body, in.data() + in.size() - 4);
}

TEST(Http1ParserTest, ExpectContinueOnlyOnHttp11) {
  expectSameEverySplit(
      Role::kRequest,
      "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
      {"head PUT / host=h HTTP/1.1 cl=1 keep expect-100 [Host=h] [Expect=100-Continue] "
       "[Content-Length=1]",
       "body x", "complete"});
  // RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue is ignored (and so is any other).
  expectSameEverySplit(Role::kRequest, "GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
                       {"head GET / HTTP/1.0 nobody close [Expect=100-continue]", "complete"});
}

TEST(Http1ParserTest, UpgradeIsReportedNeverSwitched) {
  // The next bytes are parsed as HTTP: the codec never hands the connection to another protocol.
  expectSameEverySplit(
      Role::kRequest,
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: "
      "websocket\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
      {"head GET /ws host=h HTTP/1.1 nobody keep upgrade [Host=h] "
       "[Connection=Upgrade] [Upgrade=websocket]",
       "complete", "head GET /next host=h HTTP/1.1 nobody keep [Host=h]", "complete"});
}

TEST(Http1ParserTest, EmptyLinesBeforeARequestAreIgnoredAndTargetsOfEveryForm) {
  expectSameEverySplit(Role::kRequest,
                       "\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"
                       "GET http://a.example/p HTTP/1.1\r\nHost: a.example\r\n\r\n"
                       "GET /%2F/.. HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
                       {"head OPTIONS * host=h HTTP/1.1 nobody keep [Host=h]", "complete",
                        "head GET http://a.example/p host=a.example HTTP/1.1 nobody keep "
                        "[Host=a.example]",
                        "complete",
                        "head GET /%2F/.. host=[::1]:80 HTTP/1.1 nobody keep "
                        "[Host=[::1]:80]",
                        "complete"});
}

TEST(Http1ParserTest, ObsTextInValuesIsKept) {
  expectSameEverySplit(
      Role::kRequest, "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\r\n\r\n",
      {"head GET / host=h HTTP/1.1 nobody keep [Host=h] [X-Name=caf\xc3\xa9]", "complete"});
}

TEST(Http1ParserTest, MidMessageTracksPartialInput) {
  RecordedEvents ev;
  Parser p(Role::kRequest, ev);
  EXPECT_FALSE(p.midMessage());
  ASSERT_TRUE(p.feed("GET / HTTP/1.1\r\nHo"));
  EXPECT_TRUE(p.midMessage());
  ASSERT_TRUE(p.feed("st: x\r\nContent-Length: 2\r\n\r\na"));
  EXPECT_TRUE(p.midMessage());
  ASSERT_TRUE(p.feed("b"));
  EXPECT_FALSE(p.midMessage());
  EXPECT_TRUE(p.finish()) << "between messages, the end of input is fine";
}

TEST(Http1ParserTest, InputEndingInsideAMessageIsIncomplete) {
  for (std::string in : {std::string("GET / HTTP/1.1\r\nHost: h\r\n"),
                         std::string("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab"),
                         std::string("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                                     "chunked\r\n\r\n5\r\nab")}) {
    auto o = run(Role::kRequest, in, 0, {}, /*finish=*/true);
    ASSERT_TRUE(o.failure) << in;
    EXPECT_EQ(o.failure->error, ParseError::kIncompleteMessage) << o.failure->message();
  }
}

// ---- responses --------------------------------------------------------------------------

TEST(Http1ParserTest, ResponsesFramedByLengthChunkedAndClose) {
  expectSameEverySplit(
      Role::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      {"head 200 OK HTTP/1.1 cl=2 keep [Content-Length=2]", "body ok", "complete"});
  expectSameEverySplit(
      Role::kResponse,
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
      {"head 404 Not Found HTTP/1.1 chunked keep [Transfer-Encoding=chunked]", "body nope",
       "complete"});
  // No framing: the body runs until the connection closes.
  expectSameEverySplit(Role::kResponse, "HTTP/1.0 200 OK\r\n\r\nall of it",
                       {"head 200 OK HTTP/1.0 until-close close", "body all of it", "complete"},
                       /*finish=*/true);
  // A status line without a reason phrase (the SP after the code is optional in practice).
  expectSameEverySplit(Role::kResponse, "HTTP/1.1 204\r\n\r\n",
                       {"head 204  HTTP/1.1 nobody keep", "complete"});
}

TEST(Http1ParserTest, ResponsesPairWithRequestsSoHeadHasNoBody) {
  // GET, HEAD, GET pipelined: the HEAD response's Content-Length describes a body never sent.
  expectSameEverySplit(
      Role::kResponse,
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
      {"head 200 OK HTTP/1.1 cl=1 keep [Content-Length=1]", "body a", "complete",
       "head 200 OK HTTP/1.1 nobody keep [Content-Length=100]", "complete",
       "head 304 Not Modified HTTP/1.1 nobody keep [Content-Length=7]", "complete"},
      false, {"GET", "HEAD", "GET"});
}

TEST(Http1ParserTest, InterimResponsesPrecedeTheFinalOne) {
  expectSameEverySplit(Role::kResponse,
                       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
                       "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
                       {"head 100 Continue HTTP/1.1 nobody keep",
                        "head 103 Early Hints HTTP/1.1 nobody keep [Link=</s>]",
                        "head 201 Created HTTP/1.1 cl=0 keep [Content-Length=0]", "complete"});
}

// ---- the rules: one row each, with the exact error --------------------------------------

struct Rule {
  const char* name;
  Role role;
  std::string bytes;
  ParseError error;
  int status;
};

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string req(const std::string& fields, const std::string& body = "") {
  return "POST / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n" + body;
}

TEST(Http1ParserTest, EverySmugglingAndSyntaxRuleIsItsOwnError) {
  using E = ParseError;
  const Role kReq = Role::kRequest, kResp = Role::kResponse;
  const Rule rules[] = {
      // Framing ambiguity (request smuggling).
      {"CL + TE", kReq, req("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
       E::kContentLengthWithTransferEncoding, 400},
      {"TE + CL", kReq, req("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
       E::kContentLengthWithTransferEncoding, 400},
      {"duplicate CL, same value", kReq, req("Content-Length: 3\r\nContent-Length: 3\r\n"),
       E::kDuplicateContentLength, 400},
      {"conflicting CL", kReq, req("Content-Length: 3\r\nContent-Length: 4\r\n"),
       E::kDuplicateContentLength, 400},
      {"CL list", kReq, req("Content-Length: 3, 3\r\n"), E::kDuplicateContentLength, 400},
      {"CL not a number", kReq, req("Content-Length: 3a\r\n"), E::kInvalidContentLength, 400},
      {"CL with sign", kReq, req("Content-Length: +3\r\n"), E::kInvalidContentLength, 400},
      {"CL negative", kReq, req("Content-Length: -1\r\n"), E::kInvalidContentLength, 400},
      {"CL empty", kReq, req("Content-Length:\r\n"), E::kInvalidContentLength, 400},
      {"CL overflow", kReq, req("Content-Length: 99999999999999999999\r\n"),
       E::kInvalidContentLength, 400},
      {"TE gzip", kReq, req("Transfer-Encoding: gzip\r\n"), E::kTransferEncodingNotChunked, 400},
      {"TE chunked not final", kReq, req("Transfer-Encoding: chunked, gzip\r\n"),
       E::kTransferEncodingNotChunked, 400},
      {"TE empty", kReq, req("Transfer-Encoding: \r\n"), E::kTransferEncodingNotChunked, 400},
      {"TE lookalike", kReq, req("Transfer-Encoding: xchunked\r\n"), E::kTransferEncodingNotChunked,
       400},
      {"TE coding before chunked", kReq, req("Transfer-Encoding: gzip, chunked\r\n"),
       E::kUnsupportedTransferCoding, 501},
      {"TE chunked twice", kReq,
       req("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
       E::kUnsupportedTransferCoding, 501},
      {"TE in HTTP/1.0", kReq, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       E::kTransferEncodingInHttp10, 400},
      // Chunks.
      {"chunk size not hex", kReq, req("Transfer-Encoding: chunked\r\n", "zz\r\n"),
       E::kInvalidChunkSize, 400},
      {"chunk size after space", kReq, req("Transfer-Encoding: chunked\r\n", " 5\r\n"),
       E::kInvalidChunkSize, 400},
      {"chunk size 0x", kReq, req("Transfer-Encoding: chunked\r\n", "0x5\r\n"),
       E::kInvalidChunkSize, 400},
      {"chunk size negative", kReq, req("Transfer-Encoding: chunked\r\n", "-1\r\n"),
       E::kInvalidChunkSize, 400},
      {"chunk size empty", kReq, req("Transfer-Encoding: chunked\r\n", "\r\n"),
       E::kInvalidChunkSize, 400},
      {"chunk size overflow", kReq, req("Transfer-Encoding: chunked\r\n", "10000000000000000\r\n"),
       E::kChunkSizeOverflow, 400},
      {"chunk size 2^64 + 1", kReq, req("Transfer-Encoding: chunked\r\n", "10000000000000001\r\nx"),
       E::kChunkSizeOverflow, 400},
      {"chunk size trailing space", kReq, req("Transfer-Encoding: chunked\r\n", "5 \r\n"),
       E::kInvalidChunkExtension, 400},
      {"chunk extension control byte", kReq, req("Transfer-Encoding: chunked\r\n", "5;a\x01\r\n"),
       E::kInvalidChunkExtension, 400},
      {"chunk extension unterminated quote", kReq,
       req("Transfer-Encoding: chunked\r\n", "5;a=\"b\r\n"), E::kInvalidChunkExtension, 400},
      {"chunk longer than its size", kReq,
       req("Transfer-Encoding: chunked\r\n", "3\r\nabcd\r\n0\r\n\r\n"), E::kInvalidChunkTerminator,
       400},
      {"chunk data ends in bare LF", kReq,
       req("Transfer-Encoding: chunked\r\n", "3\r\nabc\n0\r\n\r\n"), E::kBareLf, 400},
      {"chunk line ends in bare LF", kReq, req("Transfer-Encoding: chunked\r\n", "3\nabc\r\n"),
       E::kBareLf, 400},
      {"trailer ends in bare LF", kReq, req("Transfer-Encoding: chunked\r\n", "0\r\nX: 1\n\r\n"),
       E::kBareLf, 400},
      {"obs-fold in trailers", kReq,
       req("Transfer-Encoding: chunked\r\n", "0\r\nX: 1\r\n 2\r\n\r\n"), E::kObsFold, 400},
      // Line endings and field syntax.
      {"bare LF after the request line", kReq, "GET / HTTP/1.1\nHost: h\r\n\r\n", E::kBareLf, 400},
      {"bare LF after a field", kReq, "GET / HTTP/1.1\r\nHost: h\n\r\n", E::kBareLf, 400},
      {"bare LF ending the head", kReq, "GET / HTTP/1.1\r\nHost: h\r\n\n", E::kBareLf, 400},
      {"obs-fold", kReq, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", E::kObsFold, 400},
      {"obs-fold with tab", kReq, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", E::kObsFold,
       400},
      {"whitespace before the first field", kReq, "GET / HTTP/1.1\r\n Host: h\r\n\r\n", E::kObsFold,
       400},
      {"space before colon", kReq, "GET / HTTP/1.1\r\nHost : h\r\n\r\n", E::kWhitespaceBeforeColon,
       400},
      {"tab before colon", kReq, req("Transfer-Encoding\t: chunked\r\n"), E::kWhitespaceBeforeColon,
       400},
      {"NUL in value", kReq, req(std::string("X: a\0b\r\n", 8)), E::kInvalidHeaderValue, 400},
      {"CR in value", kReq, req("X: a\rb\r\n"), E::kInvalidHeaderValue, 400},
      {"DEL in value", kReq, req("X: a\x7f\r\n"), E::kInvalidHeaderValue, 400},
      {"control byte in value", kReq, req("X: a\x1b[31m\r\n"), E::kInvalidHeaderValue, 400},
      {"field without colon", kReq, req("Xyz\r\n"), E::kInvalidHeaderName, 400},
      {"empty field name", kReq, req(": v\r\n"), E::kInvalidHeaderName, 400},
      {"separator in field name", kReq, req("X(y): v\r\n"), E::kInvalidHeaderName, 400},
      {"non-ASCII field name", kReq, req("X\xc3\xa9: v\r\n"), E::kInvalidHeaderName, 400},
      // Host.
      {"missing Host on HTTP/1.1", kReq, "GET / HTTP/1.1\r\n\r\n", E::kMissingHost, 400},
      {"duplicate Host", kReq, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", E::kDuplicateHost,
       400},
      {"duplicate Host, same value", kReq, "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
       E::kDuplicateHost, 400},
      {"Host with a space", kReq, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", E::kInvalidHost, 400},
      {"Host with a path", kReq, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", E::kInvalidHost, 400},
      {"Host with userinfo", kReq, "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", E::kInvalidHost, 400},
      {"Host with a bad port", kReq, "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", E::kInvalidHost, 400},
      // Request line.
      {"method not a token", kReq, "G(ET / HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidMethod, 400},
      {"leading space", kReq, " GET / HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidMethod, 400},
      {"no version (HTTP/0.9)", kReq, "GET /\r\n\r\n", E::kInvalidRequestLine, 400},
      {"no space at all", kReq, "GARBAGE\r\n\r\n", E::kInvalidRequestLine, 400},
      {"two spaces", kReq, "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidRequestLine, 400},
      {"version lower case", kReq, "GET / http/1.1\r\nHost: h\r\n\r\n", E::kInvalidVersion, 400},
      {"version with trailing space", kReq, "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
       E::kInvalidVersion, 400},
      {"HTTP/2.0", kReq, "GET / HTTP/2.0\r\nHost: h\r\n\r\n", E::kUnsupportedVersion, 505},
      {"HTTP/0.9 spelled out", kReq, "GET / HTTP/0.9\r\n\r\n", E::kUnsupportedVersion, 505},
      {"CONNECT", kReq, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", E::kConnectNotSupported,
       501},
      {"fragment in target", kReq, "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidTarget, 400},
      {"non-ASCII target", kReq, "GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidTarget, 400},
      {"CR in target", kReq, "GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidTarget, 400},
      {"* for GET", kReq, "GET * HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidTarget, 400},
      {"relative target", kReq, "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", E::kInvalidTarget, 400},
      {"too many empty lines first", kReq, repeat("\r\n", 10) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
       E::kInvalidRequestLine, 400},
      // Semantics the codec does not implement.
      {"Expect other than 100-continue", kReq, req("Expect: 200-ok\r\n"),
       E::kUnsupportedExpectation, 417},
      // Responses.
      {"response duplicate CL", kResp,
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       E::kDuplicateContentLength, 502},
      {"response CL + TE", kResp,
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::kContentLengthWithTransferEncoding, 502},
      {"response TE not chunked", kResp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
       E::kTransferEncodingNotChunked, 502},
      {"101 Switching Protocols", kResp, "HTTP/1.1 101 Switching Protocols\r\n\r\n",
       E::kUnexpectedUpgrade, 502},
      {"status out of range", kResp, "HTTP/1.1 600 Nope\r\n\r\n", E::kInvalidStatusLine, 502},
      {"status not digits", kResp, "HTTP/1.1 2x0 OK\r\n\r\n", E::kInvalidStatusLine, 502},
      {"no space after the status", kResp, "HTTP/1.1 200OK\r\n\r\n", E::kInvalidStatusLine, 502},
      {"response version garbage", kResp, "HTTP/x.1 200 OK\r\n\r\n", E::kInvalidVersion, 502},
      {"response bare LF", kResp, "HTTP/1.1 200 OK\n\n", E::kBareLf, 502},
  };
  for (const Rule& r : rules) {
    for (size_t step : {size_t{0}, size_t{1}}) {
      auto o = run(r.role, r.bytes, step);
      ASSERT_TRUE(o.failure) << r.name << " (step " << step << ") was accepted";
      EXPECT_EQ(o.failure->error, r.error)
          << r.name << " (step " << step << "): got " << o.failure->message();
      EXPECT_EQ(o.failure->status(), r.status) << r.name;
      EXPECT_FALSE(o.failure->detail.empty()) << r.name;
      // A head that breaks a rule never reaches the caller (body rules fail after the head).
      bool body_rule = std::string_view(r.name).starts_with("chunk") ||
                       std::string_view(r.name).find("trailer") != std::string_view::npos;
      if (!body_rule) {
        for (const auto& line : o.log)
          EXPECT_NE(line.rfind("head", 0), 0u) << r.name << ": " << line;
      }
    }
  }
}

TEST(Http1ParserTest, GarbageIsRefusedBeforeItsLineEnds) {
  // A TLS ClientHello on a plain-text port: no CRLF will ever come.
  for (size_t step : {size_t{0}, size_t{1}}) {
    auto o = run(Role::kRequest, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", step);
    ASSERT_TRUE(o.failure) << "step " << step;
    EXPECT_EQ(o.failure->error, ParseError::kInvalidMethod);
    EXPECT_EQ(o.failure->detail, "byte 0x16 in the method");
  }
}

TEST(Http1ParserTest, AResponseWithNoRequestOutstandingIsRefused) {
  auto o = run(Role::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, {}, false, {});
  ASSERT_TRUE(o.failure);
  EXPECT_EQ(o.failure->error, ParseError::kUnsolicitedResponse);
}

TEST(Http1ParserTest, AFailedParserStaysFailed) {
  RecordedEvents ev;
  Parser p(Role::kRequest, ev);
  auto r = p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\nHost: h\r\n\r\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, ParseError::kBareLf);
  EXPECT_EQ(ev.log.size(), 2u) << "the valid request before the bad one was delivered";
  auto again = p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().error, ParseError::kBareLf);
  EXPECT_EQ(ev.log.size(), 2u);
}

// ---- limits -----------------------------------------------------------------------------

TEST(Http1ParserTest, LimitsAreDistinguishableAndEnforcedBeforeTheLineEnds) {
  ParserLimits l;
  l.max_start_line_bytes = 64;
  l.max_header_bytes = 128;
  l.max_headers = 3;
  l.max_body_bytes = 10;
  l.max_chunk_line_bytes = 16;
  struct Case {
    const char* name;
    std::string bytes;
    ParseError error;
    int status;
  };
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 3; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  const Case cases[] = {
      // No line end at all: refused as soon as the line is over the limit.
      {"endless request line", "GET /" + std::string(100, 'a'), ParseError::kRequestLineTooLong,
       414},
      {"endless field", "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'v'),
       ParseError::kHeadersTooLarge, 431},
      {"too many fields", many + "\r\n", ParseError::kTooManyHeaders, 431},
      {"declared body too large", "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n",
       ParseError::kBodyTooLarge, 413},
      {"chunked body too large",
       "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n",
       ParseError::kBodyTooLarge, 413},
      {"endless chunk extension",
       "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(40, 'e'),
       ParseError::kChunkLineTooLong, 400},
      {"endless trailers",
       "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
           std::string(200, 't'),
       ParseError::kHeadersTooLarge, 431},
  };
  for (const auto& c : cases) {
    for (size_t step : {size_t{0}, size_t{1}}) {
      auto o = run(Role::kRequest, c.bytes, step, l);
      ASSERT_TRUE(o.failure) << c.name;
      EXPECT_EQ(o.failure->error, c.error) << c.name << ": " << o.failure->message();
      EXPECT_EQ(o.failure->status(), c.status) << c.name;
    }
  }
  // A close-delimited response body: the bytes up to the limit arrive, then the error, however
  // the input is cut (found by http1_codec_fuzz).
  for (size_t step : {size_t{0}, size_t{1}, size_t{4}}) {
    auto o = run(Role::kResponse, "HTTP/1.0 200 OK\r\n\r\n" + std::string(11, 'b'), step, l);
    ASSERT_TRUE(o.failure);
    EXPECT_EQ(o.failure->error, ParseError::kBodyTooLarge);
    EXPECT_EQ(o.failure->status(), 502);
    EXPECT_EQ(o.body, std::string(10, 'b')) << "step " << step;
  }
  // Exactly at each limit is fine.
  std::string at_line = "GET /" + std::string(64 - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(at_line.size(), 64u);
  auto ok = run(Role::kRequest, at_line + "\r\nHost: h\r\nX1: v\r\nX2: v\r\n\r\n", 1, l);
  EXPECT_FALSE(ok.failure) << ok.failure->message();
  auto body = run(Role::kRequest,
                  "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", 1, l);
  EXPECT_FALSE(body.failure);
  EXPECT_EQ(body.body, "0123456789");
}

TEST(Http1ParserTest, AHeadInPiecesIsGatheredWithinItsLimitOnly) {
  // Byte by byte, a head just under the limits never grows the parser past them.
  ParserLimits l;
  l.max_header_bytes = 1024;
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
  while (head.size() < 900) head += "X-Pad: " + std::string(40, 'p') + "\r\n";
  head += "\r\n";
  auto o = run(Role::kRequest, head, 1, l);
  EXPECT_FALSE(o.failure) << o.failure->message();
  EXPECT_EQ(o.log.size(), 2u);
}

}  // namespace
}  // namespace warren::http1
