// Client and server engines paired in memory: tunnels, bulk transfer, flow control, stream
// limits, drain, keep-alive.
#include "common/http2/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "tests/common/http2/session_pair.h"

namespace warren::http2 {
namespace {

using namespace std::chrono_literals;
using testing::asBytes;
using testing::openTunnel;
using testing::patternBytes;
using testing::SessionPair;

constexpr size_t kMiB = 1u << 20;

TEST(Http2Session, ConnectRoundTripCarriesBytesBothWays) {
  SessionPair p;
  HeaderList seen;
  p.server_events.on_request = [&](StreamId, const HeaderList& h) { seen = h; };
  StreamId id = openTunnel(p, "[fd00::1]:8080");
  ASSERT_EQ(p.server_events.requests.size(), 1u);
  EXPECT_EQ(p.server_events.requests[0].first, id);
  ASSERT_NE(findHeader(seen, ":method"), nullptr);
  EXPECT_EQ(*findHeader(seen, ":method"), "CONNECT");
  EXPECT_EQ(*findHeader(seen, ":authority"), "[fd00::1]:8080");

  ASSERT_EQ(p.client->writeData(id, asBytes("hello server")).value(), 12u);
  ASSERT_EQ(p.server->writeData(id, asBytes("hello client")).value(), 12u);
  p.pump();
  EXPECT_EQ(p.server_events.data[id], "hello server");
  EXPECT_EQ(p.client_events.data[id], "hello client");
  EXPECT_TRUE(p.client_status.has_value());
  EXPECT_TRUE(p.server_status.has_value());
}

TEST(Http2Session, HalfCloseMapsToEndOfStreamAndBothEndsClose) {
  SessionPair p;
  StreamId id = openTunnel(p);
  ASSERT_TRUE(p.client->writeData(id, asBytes("request")).has_value());
  ASSERT_TRUE(p.client->closeWrite(id).has_value());
  p.pump();
  // Client shut its write side: the server sees END_STREAM, the stream stays open for replies.
  EXPECT_TRUE(p.server_events.ended.contains(id));
  EXPECT_FALSE(p.server_events.closed.contains(id));
  EXPECT_EQ(p.client->writableBytes(id), 0u);
  ASSERT_TRUE(p.server->writeData(id, asBytes("response")).has_value());
  ASSERT_TRUE(p.server->closeWrite(id).has_value());
  p.pump();
  EXPECT_EQ(p.client_events.data[id], "response");
  EXPECT_TRUE(p.client_events.ended.contains(id));
  EXPECT_EQ(p.client_events.closed.at(id), kNoError);
  EXPECT_EQ(p.server_events.closed.at(id), kNoError);
  EXPECT_EQ(p.client->openStreamCount(), 0u);
  EXPECT_EQ(p.client->trackedStreams(), 0u);
  EXPECT_EQ(p.server->trackedStreams(), 0u);
}

TEST(Http2Session, ErrorStatusEndsTheStream) {
  SessionPair p;
  p.server_events.auto_status = 503;
  auto id = p.client->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}});
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(p.client->writeData(*id, asBytes("early bytes")).has_value());
  p.pump();
  EXPECT_EQ(p.client_events.responses[*id], 503);
  EXPECT_TRUE(p.client_events.ended.contains(*id));
  EXPECT_TRUE(p.client_events.closed.contains(*id));
  EXPECT_TRUE(p.server_events.closed.contains(*id));
  EXPECT_EQ(p.client->openStreamCount(), 0u);
}

TEST(Http2Session, ResetReachesThePeer) {
  SessionPair p;
  StreamId id = openTunnel(p);
  ASSERT_TRUE(p.client->resetStream(id, kConnectError).has_value());
  p.pump();
  EXPECT_EQ(p.server_events.closed.at(id), kConnectError);
  EXPECT_EQ(p.client_events.closed.at(id), kConnectError);
  EXPECT_FALSE(p.client->writeData(id, asBytes("x")).has_value());
}

TEST(Http2Session, HundredMebibytesThroughOneStreamArriveIntact) {
  SessionPair p;
  StreamId id = openTunnel(p);
  p.server_events.keep_data = false;
  p.server_events.verify_pattern = true;
  constexpr uint64_t kTotal = 100 * kMiB;
  uint64_t sent = 0;
  auto start = std::chrono::steady_clock::now();
  p.pump([&] {
    while (sent < kTotal) {
      size_t room = p.client->writableBytes(id);
      if (room == 0) break;
      size_t n = static_cast<size_t>(std::min<uint64_t>(room, kTotal - sent));
      auto chunk = patternBytes(sent, n);
      sent += p.client->writeData(id, chunk).value();
    }
    if (sent == kTotal && p.client->writableBytes(id) > 0) {
      ASSERT_TRUE(p.client->closeWrite(id).has_value());
    }
  });
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(p.server_events.received[id], kTotal);
  EXPECT_EQ(p.server_events.pattern_mismatches, 0u);
  EXPECT_TRUE(p.server_events.ended.contains(id));
  // Framing overhead stays small (16 KiB DATA frames: 9 bytes each).
  EXPECT_LT(p.client_to_server_bytes, kTotal + kTotal / 1000);
  // nghttp2's own memory stays small after bulk transfer (no 1 MiB frame buffer pinned).
  EXPECT_LT(p.client->nghttp2PeakMemoryBytes(), 64u << 10);
  EXPECT_LT(p.server->nghttp2PeakMemoryBytes(), 64u << 10);
  RecordProperty("MiB_per_s", static_cast<int>(100 / secs));
}

// The receiver never consumes: the sender must stop at exactly the stream window, and resume
// only as the receiver gives credit back.
TEST(Http2Session, FlowControlStopsTheSenderAtTheStreamWindow) {
  SessionPair p;
  StreamId id = openTunnel(p);
  p.server_events.auto_consume = false;
  p.server_events.keep_data = false;
  const size_t window = SessionConfig{}.stream_window;
  uint64_t sent = 0;
  size_t max_unconsumed = 0;
  auto feed = [&] {
    max_unconsumed = std::max(max_unconsumed, p.server->unconsumedBytes(id));
    while (sent < 20 * kMiB) {
      auto chunk = patternBytes(sent, std::min<size_t>(p.client->writableBytes(id), 64 << 10));
      if (chunk.empty()) break;
      sent += p.client->writeData(id, chunk).value();
    }
  };
  p.pump(feed);
  EXPECT_EQ(p.server_events.received[id], window);
  EXPECT_EQ(p.server->unconsumedBytes(id), window);
  EXPECT_LE(max_unconsumed, window);
  EXPECT_EQ(p.client->peerStreamWindow(id), 0);
  // The sender holds only its bounded send buffer, the rest stays with the application.
  EXPECT_EQ(p.client->writableBytes(id), 0u);
  EXPECT_EQ(p.client->bufferedSendBytes(id), SessionConfig{}.stream_send_buffer);

  // Below half a window of credit no WINDOW_UPDATE goes out: nothing moves.
  p.server->consume(id, window / 2 - 1);
  p.pump(feed);
  EXPECT_EQ(p.server_events.received[id], window);
  // Crossing half a window releases exactly the consumed amount.
  p.server->consume(id, 1);
  p.pump(feed);
  EXPECT_EQ(p.server_events.received[id], window + window / 2);
  EXPECT_EQ(p.server->unconsumedBytes(id), window);
  EXPECT_LE(max_unconsumed, window);
}

TEST(Http2Session, ConnectionWindowCapsAllStreamsTogether) {
  SessionPair p;
  std::vector<StreamId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(openTunnel(p));
  p.server_events.auto_consume = false;
  p.server_events.keep_data = false;
  std::map<StreamId, uint64_t> sent;
  p.pump([&] {
    for (StreamId id : ids) {
      auto chunk = patternBytes(sent[id], p.client->writableBytes(id));
      if (!chunk.empty() && sent[id] < 8 * kMiB) sent[id] += p.client->writeData(id, chunk).value();
    }
  });
  uint64_t total = 0;
  for (StreamId id : ids) {
    total += p.server->unconsumedBytes(id);
    EXPECT_LE(p.server->unconsumedBytes(id), SessionConfig{}.stream_window);
  }
  EXPECT_EQ(total, SessionConfig{}.connection_window);
  EXPECT_EQ(p.client->peerConnectionWindow(), 0);
}

TEST(Http2Session, ConsumeAfterCloseStillCreditsTheConnection) {
  SessionPair p;
  StreamId a = openTunnel(p);
  p.server_events.auto_consume = false;
  auto chunk = patternBytes(0, 100'000);
  ASSERT_EQ(p.client->writeData(a, chunk).value(), chunk.size());
  p.pump();
  ASSERT_TRUE(p.client->resetStream(a).has_value());
  p.pump();
  EXPECT_TRUE(p.server_events.closed.contains(a));
  EXPECT_EQ(p.server->unconsumedBytes(a), 100'000u);
  EXPECT_EQ(p.server->trackedStreams(), 1u);  // kept until the application consumes
  p.server->consume(a, 100'000);
  EXPECT_EQ(p.server->trackedStreams(), 0u);
}

TEST(Http2Session, ShortWriteNotifiesWhenTheSendBufferDrains) {
  SessionConfig small;
  small.stream_send_buffer = 64 << 10;
  SessionPair p(small);
  StreamId id = openTunnel(p);
  auto chunk = patternBytes(0, 100 << 10);
  EXPECT_EQ(p.client->writeData(id, chunk).value(), 64u << 10);
  EXPECT_EQ(p.client->writableBytes(id), 0u);
  p.pump();
  ASSERT_EQ(p.client_events.writable.size(), 1u);
  EXPECT_EQ(p.client_events.writable[0], id);
  EXPECT_EQ(p.client->writableBytes(id), 64u << 10);
}

TEST(Http2Session, ClientOpensAtMostOneHundredStreams) {
  SessionPair p;
  p.server_events.auto_status = 200;
  p.pump();  // SETTINGS exchanged
  EXPECT_EQ(p.client->maxConcurrentStreams(), 100u);
  std::vector<StreamId> ids;
  while (p.client->canOpenStream() && ids.size() < 1000) {
    ids.push_back(
        p.client->openStream({{":method", "CONNECT"}, {":authority", "1.2.3.4:80"}}).value());
  }
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_FALSE(p.client->openStream({{":method", "CONNECT"}, {":authority", "1.2.3.4:80"}}));
  p.pump();
  EXPECT_EQ(p.server_events.requests.size(), 100u);
  EXPECT_EQ(p.client_events.responses.size(), 100u);
  // Closing one frees one slot.
  ASSERT_TRUE(p.client->resetStream(ids[0]).has_value());
  p.pump();
  EXPECT_TRUE(p.client->canOpenStream());
  EXPECT_EQ(p.client->openStreamCount(), 99u);
}

TEST(Http2Session, ClientHonoursTheServersSmallerStreamLimit) {
  SessionConfig server;
  server.max_concurrent_streams = 7;
  SessionPair p({}, server);
  p.pump();
  EXPECT_EQ(p.client->maxConcurrentStreams(), 7u);
  int opened = 0;
  while (p.client->canOpenStream() && opened < 100) {
    ASSERT_TRUE(p.client->openStream({{":method", "CONNECT"}, {":authority", "1.2.3.4:80"}}));
    ++opened;
  }
  EXPECT_EQ(opened, 7);
}

TEST(Http2Session, GracefulGoAwayKeepsExistingStreams) {
  SessionPair p;
  StreamId a = openTunnel(p);
  StreamId b = openTunnel(p);
  p.server->goAway();
  // A stream the client opens before it hears of the GOAWAY is refused, not processed.
  auto late = p.client->openStream({{":method", "CONNECT"}, {":authority", "1.2.3.4:80"}});
  ASSERT_TRUE(late.has_value());
  p.pump();
  ASSERT_TRUE(p.client_events.goaway.has_value());
  EXPECT_EQ(p.client_events.goaway->first, static_cast<uint32_t>(b));
  EXPECT_EQ(p.client_events.goaway->second, kNoError);
  EXPECT_EQ(p.client_events.closed.at(*late), kRefusedStream);
  EXPECT_EQ(p.server_events.requests.size(), 2u);
  EXPECT_FALSE(p.client->canOpenStream());
  EXPECT_TRUE(p.client->goingAway());

  // The old streams still carry data both ways and close normally.
  for (StreamId id : {a, b}) {
    ASSERT_TRUE(p.client->writeData(id, asBytes("still here")).has_value());
    ASSERT_TRUE(p.server->writeData(id, asBytes("me too")).has_value());
  }
  p.pump();
  EXPECT_EQ(p.server_events.data[a], "still here");
  EXPECT_EQ(p.client_events.data[b], "me too");
  EXPECT_FALSE(p.server->isClosed());
  for (StreamId id : {a, b}) {
    ASSERT_TRUE(p.client->closeWrite(id).has_value());
    ASSERT_TRUE(p.server->closeWrite(id).has_value());
  }
  p.pump();
  EXPECT_EQ(p.server_events.closed.at(a), kNoError);
  EXPECT_EQ(p.server_events.closed.at(b), kNoError);
  EXPECT_TRUE(p.server->isClosed());
  EXPECT_TRUE(p.client->isClosed());
  EXPECT_TRUE(p.client_status.has_value());
  EXPECT_TRUE(p.server_status.has_value());
}

TEST(Http2Session, PingKeepsTheSessionAliveWhileAcknowledged) {
  TimePoint t0{};
  SessionPair p({}, {}, t0);
  p.pump();
  EXPECT_EQ(p.client->nextTimer(), t0 + 10s);
  ASSERT_TRUE(p.client->onTimer(t0 + 10s).has_value());  // PING sent
  EXPECT_EQ(p.client->nextTimer(), t0 + 30s);            // waiting for the ACK
  p.pump();                                              // ACK received
  EXPECT_EQ(p.client->nextTimer(), t0 + 20s);
  EXPECT_TRUE(p.client->onTimer(t0 + 31s).has_value());
}

TEST(Http2Session, PingTimeoutFailsTheSession) {
  TimePoint t0{};
  SessionPair p({}, {}, t0);
  p.pump();
  ASSERT_TRUE(p.client->onTimer(t0 + 10s).has_value());
  auto ping = p.client->pendingOutput();  // the PING is written but the peer never answers
  EXPECT_FALSE(ping.empty());
  p.client->drainOutput(ping.size());
  EXPECT_TRUE(p.client->onTimer(t0 + 29s).has_value());
  auto r = p.client->onTimer(t0 + 30s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_FALSE(p.client->canOpenStream());
  EXPECT_FALSE(p.client->nextTimer().has_value());
  p.client->pendingOutput();
  p.client->drainOutput(p.client->outputBufferBytes());
  EXPECT_TRUE(p.client->isClosed());
}

TEST(Http2Session, OutputNeverExceedsItsBound) {
  SessionConfig c;
  c.max_output_buffer = 32 << 10;
  SessionPair p(c);
  StreamId id = openTunnel(p);
  auto chunk = patternBytes(0, 200 << 10);
  ASSERT_GT(p.client->writeData(id, chunk).value(), 0u);
  auto out = p.client->pendingOutput();
  EXPECT_LE(out.size(), 32u << 10);
  EXPECT_GT(out.size(), 16u << 10);
}

// Issue 12: a full DATA frame, header included, is exactly one full TLS record (16 KiB of
// plaintext), so a flush that ends on a frame ends on a record boundary.
TEST(Http2Session, AFullDataFrameIsExactlyOneTlsRecord) {
  SessionPair p;
  StreamId id = openTunnel(p);
  auto chunk = patternBytes(0, 64 << 10);
  ASSERT_EQ(p.client->writeData(id, chunk).value(), chunk.size());
  auto out = p.client->pendingOutput();
  size_t data_frames = 0;
  for (size_t off = 0; off + 9 <= out.size();) {
    size_t len = (size_t{out[off]} << 16) | (size_t{out[off + 1]} << 8) | out[off + 2];
    if (out[off + 3] == 0 /* DATA */) {
      ++data_frames;
      if (data_frames < 4) {
        EXPECT_EQ(9 + len, 16384u) << "DATA frame " << data_frames;
      }
    }
    off += 9 + len;
  }
  EXPECT_GE(data_frames, 4u) << "64 KiB in frames of 16,375 bytes";
}

// The DATA frames' payload sizes in serialised output.
std::vector<size_t> dataFrameSizes(std::span<const uint8_t> out) {
  std::vector<size_t> sizes;
  for (size_t off = 0; off + 9 <= out.size();) {
    size_t len = (size_t{out[off]} << 16) | (size_t{out[off + 1]} << 8) | out[off + 2];
    if (out[off + 3] == 0 /* DATA */) sizes.push_back(len);
    off += 9 + len;
  }
  return sizes;
}

// A FrameSink that keeps each frame's pieces as given, and takes at most `room` bytes.
struct PieceSink : FrameSink {
  size_t room = SIZE_MAX;
  std::vector<std::vector<size_t>> piece_sizes;  // per frame taken, its non-empty pieces
  std::vector<uint8_t> wire;
  size_t refused = 0;
  bool takeFrame(std::span<const std::span<const uint8_t>> pieces) override {
    size_t total = 0;
    for (auto piece : pieces) total += piece.size();
    if (total > room) {
      ++refused;
      return false;
    }
    room -= total;
    auto& sizes = piece_sizes.emplace_back();
    for (auto piece : pieces) {
      if (piece.empty()) continue;
      sizes.push_back(piece.size());
      wire.insert(wire.end(), piece.begin(), piece.end());
    }
    return true;
  }
};

// Issue 12: a session with a frame sink hands it each frame as it lies (a DATA frame's header,
// then its payload straight from the stream's send buffer), so the TLS engine encrypts it
// without a copy first; a full sink takes nothing and the rest follows, in order, at the next
// sendFrames(). Frames serialised inside dispatch() go there too.
TEST(Http2Session, AFrameSinkTakesFramesInPiecesAndAFullOneResumesLater) {
  SessionPair p;
  StreamId id = openTunnel(p);
  p.pump();
  ASSERT_EQ(p.client->outputBufferBytes(), 0u);
  auto chunk = patternBytes(0, 48 << 10);
  ASSERT_EQ(p.client->writeData(id, chunk).value(), chunk.size());

  PieceSink sink;
  sink.room = 2 * 16384;  // two full DATA frames, not the third
  p.client->setFrameSink(&sink);
  p.client->sendFrames();
  ASSERT_EQ(sink.piece_sizes.size(), 2u);
  for (const auto& frame : sink.piece_sizes) {
    EXPECT_EQ(frame, (std::vector<size_t>{9, 16375})) << "the header, then the payload in place";
  }
  EXPECT_EQ(sink.refused, 1u);
  EXPECT_EQ(p.client->outputBufferBytes(), 0u) << "nothing copied aside";
  EXPECT_TRUE(p.client->wantsWrite());

  sink.room = SIZE_MAX;
  p.client->sendFrames();
  ASSERT_TRUE(p.client->closeWrite(id).has_value());
  p.client->sendFrames();
  EXPECT_FALSE(p.client->wantsWrite());
  EXPECT_EQ(dataFrameSizes(sink.wire), (std::vector<size_t>{16375, 16375, 16375, 27, 0}));

  // The server reads exactly what the pieces made, in order.
  ASSERT_TRUE(p.server->dispatch(sink.wire).has_value());
  EXPECT_EQ(p.server_events.data[id],
            std::string(reinterpret_cast<const char*>(chunk.data()), chunk.size()));
  EXPECT_TRUE(p.server_events.ended.count(id));

  // The server's answer (its WINDOW_UPDATEs, a PING) reaches the client's dispatch(), which
  // serialises what it owes (the PING's ACK) into the sink, not into the output buffer.
  ASSERT_TRUE(p.server->onTimer(TimePoint{} + 10s).has_value());  // the server's PING
  auto back = p.server->pendingOutput();
  size_t frames_before = sink.piece_sizes.size();
  ASSERT_TRUE(p.client->dispatch(back).has_value());
  p.server->drainOutput(back.size());
  EXPECT_EQ(p.client->outputBufferBytes(), 0u);
  ASSERT_GT(sink.piece_sizes.size(), frames_before);
  EXPECT_EQ(sink.wire[sink.wire.size() - 17 + 3], 6) << "the last frame is a PING";
  EXPECT_EQ(sink.wire[sink.wire.size() - 17 + 4], 1) << "... with the ACK flag";
}

// Issue 12: 16 KiB writes (a relay's reads) made a full frame and a 9-byte one each, so every
// write cost a second TLS record. Corked (a send in flight), only full frames go; the tails wait
// for the cork to lift or for the stream's end, and then go.
TEST(Http2Session, CorkedStreamsSendOnlyFullFramesUntilTheCorkLifts) {
  SessionPair p;
  StreamId id = openTunnel(p);
  (void)p.client->pendingOutput();  // whatever the tunnel left queued
  p.client->drainOutput(p.client->outputBufferBytes());
  auto chunk = patternBytes(0, 16384);

  ASSERT_EQ(p.client->writeData(id, chunk).value(), chunk.size());
  auto uncorked = dataFrameSizes(p.client->pendingOutput());
  EXPECT_EQ(uncorked, (std::vector<size_t>{16375, 9})) << "without the cork: a 9-byte frame";
  p.client->drainOutput(p.client->outputBufferBytes());

  p.client->setCork(true);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(p.client->writeData(id, chunk).value(), chunk.size());
  auto corked = dataFrameSizes(p.client->pendingOutput());
  EXPECT_EQ(corked, (std::vector<size_t>{16375, 16375, 16375})) << "3 x 16,384 = 3 frames + 27";
  p.client->drainOutput(p.client->outputBufferBytes());
  EXPECT_TRUE(p.client->wantsWrite()) << "the corked tail is output still to come";
  EXPECT_EQ(p.client->bufferedSendBytes(id), 27u);

  p.client->setCork(false);
  EXPECT_EQ(dataFrameSizes(p.client->pendingOutput()), std::vector<size_t>{27});
  p.client->drainOutput(p.client->outputBufferBytes());
  EXPECT_FALSE(p.client->wantsWrite());

  // Ending the stream sends its tail even while corked.
  p.client->setCork(true);
  ASSERT_EQ(p.client->writeData(id, asBytes("last words")).value(), 10u);
  EXPECT_TRUE(dataFrameSizes(p.client->pendingOutput()).empty());
  ASSERT_TRUE(p.client->closeWrite(id).has_value());
  p.pump();  // (the output drained above was dropped: only this reaches the server)
  EXPECT_EQ(p.server_events.data[id], "last words");
  EXPECT_TRUE(p.server_events.ended.count(id));
}

TEST(Http2Session, RejectsBadConfig) {
  testing::Recorder r;
  SessionConfig c;
  c.max_frame_size = 100;
  auto s = Session::create(Role::kClient, c, r, TimePoint{});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message().find("max_frame_size"), std::string::npos);
  c = {};
  c.stream_window = 1u << 31;
  EXPECT_FALSE(Session::create(Role::kServer, c, r, TimePoint{}).has_value());
}

TEST(Http2Session, DumpsItsState) {
  SessionPair p;
  StreamId id = openTunnel(p);
  p.server_events.auto_consume = false;
  ASSERT_TRUE(p.client->writeData(id, asBytes("abc")).has_value());
  p.pump();
  auto j = p.server->dumpState();
  EXPECT_EQ(j["role"], "server");
  EXPECT_EQ(j["unconsumed_bytes"], 3);
  ASSERT_EQ(j["streams"].size(), 1u);
  EXPECT_EQ(j["streams"][0]["id"], id);
  EXPECT_EQ(j["streams"][0]["unconsumed_bytes"], 3);
  EXPECT_EQ(p.client->dumpState()["open_local_streams"], 1);
}

TEST(Http2Session, ServerCannotOpenStreams) {
  SessionPair p;
  EXPECT_FALSE(p.server->canOpenStream());
  EXPECT_FALSE(p.server->openStream({{":method", "CONNECT"}, {":authority", "a:1"}}));
}

}  // namespace
}  // namespace warren::http2
