// The HTTP/2 server engine and HBONE validation together, as ztunnel's inbound uses them:
// requests built by our client, and hostile ones as raw frames.
#include <gtest/gtest.h>

#include "common/hbone/connect_request.h"
#include "common/hbone/inbound_validation.h"
#include "common/http2/session.h"
#include "tests/common/http2/raw_frames.h"
#include "tests/common/http2/session_pair.h"

namespace warren::hbone {
namespace {

using http2::testing::append;
using http2::testing::Bytes;

// Answers every request with the status HBONE validation gives it.
void answerWithValidation(http2::testing::Recorder& r, std::vector<InboundDecision>& decisions) {
  r.on_request = [&r, &decisions](http2::StreamId id, const http2::HeaderList& headers) {
    InboundContext ctx;
    ctx.local_ip = IpAddress::parse("10.0.0.2").value();
    decisions.push_back(validateInbound(headers, ctx));
    EXPECT_TRUE(r.session->respond(id, decisions.back().status()).has_value());
  };
}

TEST(HboneServer, ClientBuiltRequestIsAcceptedEndToEnd) {
  http2::testing::SessionPair p;
  std::vector<InboundDecision> decisions;
  answerWithValidation(p.server_events, decisions);
  ConnectRequest req{SocketAddress::parse("10.0.0.2:8080").value(),
                     SocketAddress::parse("10.0.0.1:5555").value(),
                     std::nullopt,
                     {},
                     TraceParent::random(),
                     std::nullopt};
  auto id = p.client->openStream(buildConnectHeaders(req));
  ASSERT_TRUE(id.has_value());
  p.pump();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].outcome, InboundOutcome::kAccept) << decisions[0].detail;
  EXPECT_EQ(p.client_events.responses[*id], 200);
  EXPECT_EQ(decisions[0].request->traceparent, req.traceparent);
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
      {"other ip", {{":method", "CONNECT"}, {":authority", "10.0.0.3:80"}}, "400"},
      {"loop to 15008", {{":method", "CONNECT"}, {":authority", "10.0.0.2:15008"}}, "503"},
      {"good", {{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}}, "200"},
      // Malformed for HTTP/2 itself: nghttp2 resets before HBONE sees it.
      {"CONNECT without authority", {{":method", "CONNECT"}}, ""},
      {"CONNECT with path",
       {{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}, {":path", "/"}},
       ""},
  };
  for (const auto& c : cases) {
    http2::testing::Recorder events;
    std::vector<InboundDecision> decisions;
    answerWithValidation(events, decisions);
    auto server = http2::Session::create(http2::Role::kServer, {}, events, {}).value();
    events.session = server.get();
    Bytes b = http2::testing::clientPreface();
    append(b, http2::testing::headersFrame(1, c.headers));
    ASSERT_TRUE(server->dispatch(b).has_value()) << c.name;
    Bytes wire;
    for (auto out = server->pendingOutput(); !out.empty(); out = server->pendingOutput()) {
      wire.insert(wire.end(), out.begin(), out.end());
      server->drainOutput(out.size());
    }
    auto frames = http2::testing::parseFrames(wire);
    http2::testing::HeaderDecoder decoder;
    auto statuses = http2::testing::responseStatuses(decoder, frames);
    if (c.want_status.empty()) {
      EXPECT_TRUE(statuses.empty()) << c.name;
      EXPECT_TRUE(decisions.empty()) << c.name;
      bool reset = false;
      for (const auto& f : frames) {
        if (f.type == http2::testing::kRstStream && f.errorCode() == http2::kProtocolError) {
          reset = true;
        }
      }
      EXPECT_TRUE(reset) << c.name;
    } else {
      ASSERT_EQ(statuses.size(), 1u) << c.name;
      EXPECT_EQ(statuses[0].second, c.want_status) << c.name;
    }
    EXPECT_FALSE(server->isClosed()) << c.name;  // a bad request never costs the connection
  }
}

}  // namespace
}  // namespace warren::hbone
