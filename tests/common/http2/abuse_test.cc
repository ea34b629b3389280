// A hostile client, one abuse per test, fed to a server Session as raw frames. Each must end in
// the right RST_STREAM / GOAWAY / status, without a crash, with bounded memory.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/http2/session.h"
#include "tests/common/http2/raw_frames.h"
#include "tests/common/http2/session_pair.h"

namespace warren::http2 {
namespace {

using testing::append;
using testing::Bytes;
using testing::clientPreface;
using testing::connectFrame;
using testing::Frame;
using testing::frame;
using testing::HeaderDecoder;
using testing::headersFrame;
using testing::parseFrames;
using testing::u32;

// Memory nghttp2 may hold for one hostile connection in these tests: HPACK tables, one frame
// buffer, a few streams. Far below SessionConfig::max_session_memory.
constexpr size_t kMemoryBound = 512u << 10;

struct RawServer {
  RawServer() {
    session = Session::create(Role::kServer, config, events, TimePoint{}).value();
    events.session = session.get();
  }
  Status feed(const Bytes& b) { return session->dispatch(b); }
  // Everything the server wants to write, as frames.
  std::vector<Frame> drain() {
    Bytes wire;
    for (int i = 0; i < 100000; ++i) {
      auto out = session->pendingOutput();
      if (out.empty()) break;
      max_output = std::max(max_output, out.size());
      wire.insert(wire.end(), out.begin(), out.end());
      session->drainOutput(out.size());
    }
    return parseFrames(wire);
  }
  const Frame* find(const std::vector<Frame>& frames, uint8_t type) {
    auto it = std::find_if(frames.begin(), frames.end(), [&](auto& f) { return f.type == type; });
    return it == frames.end() ? nullptr : &*it;
  }

  SessionConfig config;
  testing::Recorder events;
  std::unique_ptr<Session> session;
  size_t max_output = 0;
};

Bytes handshake() {
  Bytes b = clientPreface();
  append(b, frame(testing::kSettings, testing::kAck, 0));  // accept the server's SETTINGS
  return b;
}

TEST(Http2Abuse, ConnectWithoutAuthorityIsResetAsMalformed) {
  RawServer s;
  Bytes b = handshake();
  append(b, headersFrame(1, {{":method", "CONNECT"}}));
  ASSERT_TRUE(s.feed(b).has_value());
  auto frames = s.drain();
  const Frame* rst = s.find(frames, testing::kRstStream);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->stream, 1u);
  EXPECT_EQ(rst->errorCode(), kProtocolError);
  EXPECT_TRUE(s.events.requests.empty());
  EXPECT_FALSE(s.session->isClosed());  // a stream error, not a connection error
}

TEST(Http2Abuse, RapidResetFloodEndsInGoAway) {
  RawServer s;  // requests are never answered, as while an upstream connect is pending
  Bytes b = handshake();
  constexpr uint32_t kStreams = 1500;  // nghttp2's bucket holds 1000 resets
  for (uint32_t i = 0; i < kStreams; ++i) {
    append(b, connectFrame(2 * i + 1));
    append(b, frame(testing::kRstStream, 0, 2 * i + 1, u32(kCancel)));
  }
  (void)s.feed(b);
  auto frames = s.drain();
  const Frame* goaway = s.find(frames, testing::kGoAway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_NE(goaway->errorCode(), kNoError);
  EXPECT_LT(s.events.requests.size(), kStreams);
  EXPECT_LT(s.session->nghttp2PeakMemoryBytes(), kMemoryBound);
  EXPECT_EQ(s.session->trackedStreams(), 0u);
  EXPECT_TRUE(s.session->isClosed());
  EXPECT_FALSE(s.feed(connectFrame(2 * kStreams + 1)).has_value());
}

TEST(Http2Abuse, ContinuationFloodIsFatal) {
  RawServer s;
  Bytes b = handshake();
  append(b, headersFrame(1, {{":method", "CONNECT"}}, /*flags=*/0));  // no END_HEADERS
  for (int i = 0; i < 50; ++i) {
    append(b, frame(testing::kContinuation, 0, 1, testing::hpack({{"x-filler", "a"}})));
  }
  auto r = s.feed(b);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  auto frames = s.drain();
  const Frame* goaway = s.find(frames, testing::kGoAway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->errorCode(), kEnhanceYourCalm);
  EXPECT_TRUE(s.events.requests.empty());
  EXPECT_LT(s.session->nghttp2PeakMemoryBytes(), kMemoryBound);
  EXPECT_TRUE(s.session->isClosed());
}

// Empty DATA frames cost the sender nothing (no window, no answer): two in a row end the
// session (Envoy's max_consecutive_inbound_frames_with_empty_payload, CVE-2019-9518), while
// one between frames with a payload, and an empty DATA that ends the stream, are fine.
TEST(Http2Abuse, EmptyDataFramesInARowEndTheSession) {
  const std::vector<std::pair<std::string, std::string>> get = {
      {":method", "POST"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}};
  {
    RawServer s;
    Bytes b = handshake();
    append(b, headersFrame(1, get));
    append(b, frame(testing::kData, 0, 1));
    append(b, frame(testing::kData, 0, 1, Bytes(4, 'x')));
    append(b, frame(testing::kData, 0, 1));
    append(b, frame(testing::kData, 0, 1, Bytes(4, 'x')));
    append(b, frame(testing::kData, testing::kEndStream, 1));
    ASSERT_TRUE(s.feed(b).has_value()) << "alternating empty and full frames are legal";
  }
  RawServer s;
  Bytes b = handshake();
  append(b, headersFrame(1, get));
  for (int i = 0; i < 10'000; ++i) append(b, frame(testing::kData, 0, 1));
  auto r = s.feed(b);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("without payload"), std::string::npos) << r.error().message();
  auto frames = s.drain();
  const Frame* goaway = s.find(frames, testing::kGoAway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->errorCode(), kEnhanceYourCalm);
  EXPECT_EQ(s.session->goAwaySentCode(), std::optional<uint32_t>(kEnhanceYourCalm));
  EXPECT_LT(s.session->nghttp2PeakMemoryBytes(), kMemoryBound);
}

// A header block in progress (HEADERS without END_HEADERS) is visible, for a request-head
// timeout; its end, or its stream's reset, clears it.
TEST(Http2Abuse, AHeaderBlockInProgressIsVisible) {
  RawServer s;
  Bytes b = handshake();
  ASSERT_TRUE(s.feed(b).has_value());
  EXPECT_FALSE(s.session->receivingHeaderBlock());
  ASSERT_TRUE(s.feed(headersFrame(1, {{":method", "GET"}, {":scheme", "http"}}, 0)).has_value());
  EXPECT_TRUE(s.session->receivingHeaderBlock());
  EXPECT_EQ(s.session->headerBlocksStarted(), 1u);
  ASSERT_TRUE(s.feed(frame(testing::kContinuation, testing::kEndHeaders | testing::kEndStream, 1,
                           testing::hpack({{":authority", "a"}, {":path", "/"}})))
                  .has_value());
  EXPECT_FALSE(s.session->receivingHeaderBlock());
  EXPECT_EQ(s.events.requests.size(), 1u);
}

// The peer sends PINGs but never reads the ACKs: once our output buffer is full, nghttp2's
// queue of pending ACKs is capped (max_outbound_ack) and the session ends.
TEST(Http2Abuse, PingFloodIsFatal) {
  RawServer s;
  Bytes b = handshake();
  // 1 MiB of output holds ~61,000 ACKs (17 bytes each); 1,000 more may queue in nghttp2.
  for (int i = 0; i < 100'000; ++i) append(b, frame(testing::kPing, 0, 0, Bytes(8, 0x42)));
  auto r = s.feed(b);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("Flooding"), std::string::npos) << r.error().message();
  EXPECT_LT(s.session->nghttp2PeakMemoryBytes(), kMemoryBound);
  s.drain();
  EXPECT_LE(s.max_output, s.config.max_output_buffer);
  EXPECT_TRUE(s.session->isClosed());
}

TEST(Http2Abuse, SettingsFloodIsFatal) {
  RawServer s;
  Bytes b = handshake();
  Bytes entry = {0x00, 0x04};  // INITIAL_WINDOW_SIZE
  append(entry, u32(65535));
  for (int i = 0; i < 200'000; ++i) append(b, frame(testing::kSettings, 0, 0, entry));
  auto r = s.feed(b);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("Flooding"), std::string::npos) << r.error().message();
  EXPECT_LT(s.session->nghttp2PeakMemoryBytes(), kMemoryBound);
  EXPECT_LE(s.session->outputBufferBytes(), s.config.max_output_buffer);
  s.drain();
  EXPECT_TRUE(s.session->isClosed());
}

TEST(Http2Abuse, SettingsWithTooManyEntriesEndsInGoAway) {
  RawServer s;
  Bytes b = handshake();
  Bytes payload;
  for (int i = 0; i < 40; ++i) {
    payload.insert(payload.end(), {0x00, 0x03});  // MAX_CONCURRENT_STREAMS
    append(payload, u32(100));
  }
  append(b, frame(testing::kSettings, 0, 0, payload));
  auto r = s.feed(b);
  EXPECT_FALSE(r.has_value());
  auto frames = s.drain();
  const Frame* goaway = s.find(frames, testing::kGoAway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->errorCode(), kEnhanceYourCalm);
  EXPECT_TRUE(s.session->isClosed());
}

TEST(Http2Abuse, OversizedHeadersGet431AndTheSessionLivesOn) {
  RawServer s;
  s.events.auto_status = 200;
  Bytes b = handshake();
  std::vector<std::pair<std::string, std::string>> big = {{":method", "CONNECT"},
                                                          {":authority", "10.0.0.2:8080"}};
  for (int i = 0; i < 10; ++i)
    big.emplace_back("x-big-" + std::to_string(i), std::string(8000, 'v'));
  append(b, headersFrame(1, big));
  append(b, connectFrame(3));
  ASSERT_TRUE(s.feed(b).has_value());
  auto frames = s.drain();
  HeaderDecoder decoder;
  auto statuses = testing::responseStatuses(decoder, frames);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0], (std::pair<uint32_t, std::string>{1, "431"}));
  EXPECT_EQ(statuses[1], (std::pair<uint32_t, std::string>{3, "200"}));
  const Frame* rst = s.find(frames, testing::kRstStream);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->stream, 1u);
  EXPECT_EQ(rst->errorCode(), kNoError);
  ASSERT_EQ(s.events.requests.size(), 1u);  // only the well-formed one reached the application
  EXPECT_EQ(s.events.requests[0].first, 3);
  EXPECT_LT(s.session->nghttp2PeakMemoryBytes(), kMemoryBound);
}

TEST(Http2Abuse, DataBeyondTheStreamWindowIsRefused) {
  RawServer s;
  s.events.auto_status = 200;
  s.events.auto_consume = false;
  s.events.keep_data = false;
  Bytes b = handshake();
  append(b, connectFrame(1));
  for (int i = 0; i < 5; ++i) append(b, frame(testing::kData, 0, 1, Bytes(1u << 20, 0x61)));
  (void)s.feed(b);
  auto frames = s.drain();
  EXPECT_EQ(s.events.received[1], s.config.stream_window);  // never more than the window
  bool refused = false;
  for (const auto& f : frames) {
    if ((f.type == testing::kRstStream || f.type == testing::kGoAway) &&
        f.errorCode() == kFlowControlError) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
}

TEST(Http2Abuse, GarbagePrefaceIsFatal) {
  RawServer s;
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  auto r = s.feed(Bytes(junk.begin(), junk.end()));
  ASSERT_FALSE(r.has_value());
  s.drain();
  EXPECT_TRUE(s.session->isClosed());
}

// Past the acknowledged SETTINGS_MAX_CONCURRENT_STREAMS, nghttp2 treats new streams as a
// connection error (RFC 9113 5.1.2 allows a stream or connection error).
TEST(Http2Abuse, StreamsBeyondTheLimitEndTheSession) {
  RawServer s;
  Bytes b = handshake();
  for (uint32_t i = 0; i < 120; ++i) append(b, connectFrame(2 * i + 1));
  EXPECT_FALSE(s.feed(b).has_value());
  auto frames = s.drain();
  EXPECT_EQ(s.events.requests.size(), 100u);
  const Frame* goaway = s.find(frames, testing::kGoAway);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->errorCode(), kProtocolError);
  EXPECT_LE(s.session->trackedStreams(), 100u);
}

// A hostile server, as a pooled outbound connection sees it: the client opened one CONNECT
// stream and reads hand-made frames.
struct RawClient {
  RawClient() {
    session = Session::create(Role::kClient, config, events, TimePoint{}).value();
    events.session = session.get();
    id = session->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:8080"}}).value();
    while (!session->pendingOutput().empty()) session->drainOutput(session->pendingOutput().size());
  }
  Status feed(const Bytes& b) { return session->dispatch(b); }
  std::vector<Frame> drain() {
    Bytes wire;
    for (auto out = session->pendingOutput(); !out.empty(); out = session->pendingOutput()) {
      wire.insert(wire.end(), out.begin(), out.end());
      session->drainOutput(out.size());
    }
    return parseFrames(wire);
  }
  static Bytes serverHello() {
    Bytes b = frame(testing::kSettings, 0, 0);
    append(b, frame(testing::kSettings, testing::kAck, 0));
    return b;
  }

  SessionConfig config;
  testing::Recorder events;
  std::unique_ptr<Session> session;
  StreamId id = 0;
};

// nghttp2 checks only that :status has three digits; "006" and "999" are no status (RFC 9110
// 15: 100..599). Found by h2_session_fuzz: the client reported onResponse(6). Now the stream is
// reset as malformed and the application hears only its close.
TEST(Http2Abuse, ResponseStatusOutOfRangeResetsTheStream) {
  for (const char* status : {"006", "099", "600", "999"}) {
    RawClient c;
    Bytes b = RawClient::serverHello();
    append(b, headersFrame(c.id, {{":status", status}}));
    ASSERT_TRUE(c.feed(b).has_value()) << status;
    auto frames = c.drain();
    EXPECT_TRUE(c.events.responses.empty()) << status << " reached the application";
    auto rst = std::find_if(frames.begin(), frames.end(),
                            [](const Frame& f) { return f.type == testing::kRstStream; });
    ASSERT_NE(rst, frames.end()) << status;
    EXPECT_EQ(rst->errorCode(), kProtocolError) << status;
    ASSERT_EQ(c.events.closed.count(c.id), 1u) << status;
  }
}

// A 1xx is interim (RFC 9110 15.2): the application hears only the final response.
TEST(Http2Abuse, InterimResponsesAreNotTheAnswer) {
  RawClient c;
  Bytes b = RawClient::serverHello();
  append(b, headersFrame(c.id, {{":status", "100"}}));
  append(b, headersFrame(c.id, {{":status", "103"}, {"link", "</x>"}}));
  append(b, headersFrame(c.id, {{":status", "200"}}));
  ASSERT_TRUE(c.feed(b).has_value());
  c.drain();
  ASSERT_EQ(c.events.responses.size(), 1u);
  EXPECT_EQ(c.events.responses[c.id], 200);
  EXPECT_EQ(c.events.closed.count(c.id), 0u) << "the tunnel is up";
}

}  // namespace
}  // namespace warren::http2
