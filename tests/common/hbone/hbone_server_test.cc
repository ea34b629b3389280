// The HTTP/2 server engine and the HBONE request parser together: requests built by our
// client, and hostile ones as raw frames. (What the authority may name is the mesh's inbound
// decision: tests/ztunnel/inbound_decision_test.cc runs the same frames through it.)
#include <gtest/gtest.h>

#include "common/hbone/connect_request.h"
#include "common/http2/session.h"
#include "tests/common/http2/raw_frames.h"
#include "tests/common/http2/session_pair.h"

namespace warren::hbone {
namespace {

using http2::testing::append;
using http2::testing::Bytes;

using Parsed = std::expected<ParsedConnect, ConnectError>;

// Answers every request 200 when it parses as an HBONE CONNECT, else 400.
void answerWithParse(http2::testing::Recorder& r, std::vector<Parsed>& decisions) {
  r.on_request = [&r, &decisions](http2::StreamId id, const http2::HeaderList& headers) {
    decisions.push_back(parseConnect(headers));
    EXPECT_TRUE(r.session->respond(id, decisions.back() ? 200 : 400).has_value());
  };
}

TEST(HboneServer, ClientBuiltRequestIsAcceptedEndToEnd) {
  http2::testing::SessionPair p;
  std::vector<Parsed> decisions;
  answerWithParse(p.server_events, decisions);
  ConnectRequest req{net::SocketAddress::parse("10.0.0.2:8080").value(),
                     net::SocketAddress::parse("10.0.0.1:5555").value(),
                     std::nullopt,
                     {},
                     TraceParent::random(),
                     std::nullopt};
  auto id = p.client->openStream(buildConnectHeaders(req));
  ASSERT_TRUE(id.has_value());
  p.pump();
  ASSERT_EQ(decisions.size(), 1u);
  ASSERT_TRUE(decisions[0].has_value()) << decisions[0].error().detail;
  EXPECT_EQ(p.client_events.responses[*id], 200);
  EXPECT_EQ(decisions[0]->traceparent, req.traceparent);
}

struct RawCase {
  std::string name;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string want_status;  // empty: expect a RST_STREAM PROTOCOL_ERROR instead
};

TEST(HboneServer, BadRequestsGetTheirStatus) {
  const RawCase cases[] = {
      {"GET",
       {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "10.0.0.2:80"}},
       "400"},
      {"POST",
       {{":method", "POST"}, {":scheme", "https"}, {":path", "/x"}, {":authority", "10.0.0.2:80"}},
       "400"},
      {"no port", {{":method", "CONNECT"}, {":authority", "10.0.0.2"}}, "400"},
      {"junk authority", {{":method", "CONNECT"}, {":authority", "%%%"}}, "400"},
      {"good", {{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}}, "200"},
      // Malformed for HTTP/2 itself: nghttp2 resets before HBONE sees it.
      {"CONNECT without authority", {{":method", "CONNECT"}}, ""},
      {"CONNECT with path",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}, {":path", "/"}},
       ""},
  };
  for (const auto& c : cases) {
    http2::testing::Recorder events;
    std::vector<Parsed> decisions;
    answerWithParse(events, decisions);
    auto server = http2::Session::create(http2::Role::kServer, {}, events, {}).value();
    events.session = server.get();
    auto answer = http2::testing::sendRawRequest(*server, c.headers);
    ASSERT_TRUE(answer.dispatched) << c.name;
    if (c.want_status.empty()) {
      EXPECT_TRUE(answer.statuses.empty()) << c.name;
      EXPECT_TRUE(answer.protocol_error_reset) << c.name;
      EXPECT_TRUE(decisions.empty()) << c.name;
    } else {
      ASSERT_EQ(answer.statuses.size(), 1u) << c.name;
      EXPECT_EQ(answer.statuses[0].second, c.want_status) << c.name;
    }
    EXPECT_FALSE(server->isClosed()) << c.name;  // a bad request never costs the connection
  }
}

}  // namespace
}  // namespace warren::hbone
