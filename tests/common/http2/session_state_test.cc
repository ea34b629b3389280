// Session::exportState: both ends of one connection, exported at the same quiet moment, must
// describe the same windows, streams and ids from their two sides; and a session holding state
// the export does not describe refuses, naming it.
#include <gtest/gtest.h>

#include <string>

#include "common/http2/session.h"
#include "tests/common/http2/session_pair.h"

namespace warren::http2 {
namespace {

using testing::asBytes;
using testing::openTunnel;
using testing::patternBytes;
using testing::SessionPair;

SessionConfig exportable(uint32_t stream_window = 4u << 20) {
  SessionConfig c;
  c.hpack_dynamic_table = false;
  c.stream_window = stream_window;
  return c;
}

const StreamState* findStream(const SessionState& s, StreamId id) {
  for (const auto& st : s.streams) {
    if (st.id == id) return &st;
  }
  return nullptr;
}

// Every window one side may send into is the one the other side leaves open.
void expectMirrored(const SessionState& client, const SessionState& server) {
  EXPECT_EQ(client.send_window, server.receive_window);
  EXPECT_EQ(server.send_window, client.receive_window);
  ASSERT_EQ(client.streams.size(), server.streams.size());
  for (const auto& c : client.streams) {
    const StreamState* s = findStream(server, c.id);
    ASSERT_NE(s, nullptr) << "stream " << c.id;
    EXPECT_TRUE(c.local);
    EXPECT_FALSE(s->local);
    EXPECT_EQ(c.send_window, s->receive_window) << "stream " << c.id;
    EXPECT_EQ(s->send_window, c.receive_window) << "stream " << c.id;
    EXPECT_EQ(c.sent_end, s->received_end) << "stream " << c.id;
    EXPECT_EQ(s->sent_end, c.received_end) << "stream " << c.id;
  }
}

TEST(Http2SessionState, BothEndsDescribeTheSameWindowsAndStreams) {
  constexpr uint32_t kWindow = 64u << 10;
  SessionPair p(exportable(), exportable(kWindow));
  p.server_events.auto_consume = false;  // the server's app holds what it got
  StreamId a = openTunnel(p, "10.0.0.2:8080");
  StreamId b = openTunnel(p, "10.0.0.3:9090");
  ASSERT_EQ(p.server_events.requests.size(), 2u);
  // Without dynamic tables the header blocks still carry every field.
  const std::string* authority = findHeader(p.server_events.requests[1].second, ":authority");
  ASSERT_NE(authority, nullptr);
  EXPECT_EQ(*authority, "10.0.0.3:9090");

  constexpr size_t kSentA = 100'000;  // more than the server's 64 KiB stream window
  ASSERT_EQ(p.client->writeData(a, patternBytes(0, kSentA)).value(), kSentA);
  ASSERT_EQ(p.client->writeData(b, asBytes("ten bytes!")).value(), 10u);
  ASSERT_EQ(p.server->writeData(b, asBytes("reply")).value(), 5u);
  ASSERT_TRUE(p.client->closeWrite(b).has_value());
  p.pump();

  auto client = p.client->exportState();
  auto server = p.server->exportState();
  ASSERT_TRUE(client.has_value()) << client.error().message();
  ASSERT_TRUE(server.has_value()) << server.error().message();
  EXPECT_TRUE(client->client);
  EXPECT_FALSE(server->client);
  EXPECT_EQ(client->next_local_stream, b + 2);
  EXPECT_EQ(server->last_peer_stream, b);
  EXPECT_EQ(client->peer_initial_window, kWindow);
  EXPECT_EQ(server->peer_initial_window, 4u << 20);
  expectMirrored(*client, *server);

  const StreamState* ca = findStream(*client, a);
  const StreamState* sa = findStream(*server, a);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(sa, nullptr);
  EXPECT_EQ(ca->send_window, 0);       // the window is spent ...
  EXPECT_EQ(sa->unconsumed, kWindow);  // ... on what the server's app holds
  // ... and the rest waits in the client, byte for byte what comes next.
  EXPECT_EQ(ca->queued, patternBytes(kWindow, kSentA - kWindow));
  const StreamState* cb = findStream(*client, b);
  const StreamState* sb = findStream(*server, b);
  ASSERT_NE(cb, nullptr);
  ASSERT_NE(sb, nullptr);
  EXPECT_TRUE(cb->sent_end);
  EXPECT_TRUE(cb->end_requested);
  EXPECT_EQ(sb->unconsumed, 10u);
  EXPECT_TRUE(cb->queued.empty());

  // The server's app passes the bytes on: the credit is owed until it is sent, and a
  // WINDOW_UPDATE waiting to go out is state the export does not carry.
  p.server->consume(a, kWindow);
  p.server->consume(b, 10);
  auto pending = p.server->exportState();
  ASSERT_FALSE(pending.has_value());
  EXPECT_NE(pending.error().message().find("queued for sending"), std::string::npos)
      << pending.error().message();
  p.server_events.auto_consume = true;
  p.pump();
  client = p.client->exportState();
  server = p.server->exportState();
  ASSERT_TRUE(client.has_value()) << client.error().message();
  ASSERT_TRUE(server.has_value()) << server.error().message();
  expectMirrored(*client, *server);
  ca = findStream(*client, a);
  ASSERT_NE(ca, nullptr);
  EXPECT_TRUE(ca->queued.empty());  // the rest went out once the window opened
  EXPECT_EQ(p.server_events.received[a], kSentA);
}

TEST(Http2SessionState, RefusesUntilTheSettingsAreAcknowledged) {
  SessionPair p(exportable(), exportable());
  auto early = p.client->exportState();
  ASSERT_FALSE(early.has_value());
  EXPECT_NE(early.error().message().find("queued for sending"), std::string::npos)
      << early.error().message();
  // The server gets the client's preface and SETTINGS and sends its own and its ACK, which
  // never arrive: nothing is queued or half received, but the client never acknowledged.
  auto from_client = p.client->pendingOutput();
  ASSERT_TRUE(p.server->dispatch(from_client).has_value());
  auto from_server = p.server->pendingOutput();
  ASSERT_FALSE(from_server.empty());
  p.server->drainOutput(from_server.size());
  auto unacked = p.server->exportState();
  ASSERT_FALSE(unacked.has_value());
  EXPECT_NE(unacked.error().message().find("not acknowledged"), std::string::npos)
      << unacked.error().message();
  // A frame cut in two by the transport: refused until its rest arrives.
  SessionPair q(exportable(), exportable());
  q.pump();
  ASSERT_TRUE(q.server->exportState().has_value());
  const uint8_t ping[] = {0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};  // PING, 8 bytes
  ASSERT_TRUE(q.server->dispatch(std::span(ping).first(12)).has_value());
  auto cut = q.server->exportState();
  ASSERT_FALSE(cut.has_value());
  EXPECT_NE(cut.error().message().find("half a frame"), std::string::npos) << cut.error().message();
  ASSERT_TRUE(q.server->dispatch(std::span(ping).subspan(12)).has_value());
  q.pump();  // the PING's ACK goes out
  EXPECT_TRUE(q.server->exportState().has_value());
  EXPECT_TRUE(q.client->exportState().has_value());
}

TEST(Http2SessionState, RefusesWhileAnHpackTableHoldsEntries) {
  SessionPair p;  // dynamic tables on (the default): the CONNECT's fields are indexed
  openTunnel(p);
  auto st = p.client->exportState();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("HPACK dynamic tables"), std::string::npos)
      << st.error().message();
}

TEST(Http2SessionState, RefusesAStreamBeforeItsResponse) {
  SessionPair p(exportable(), exportable());
  auto id = p.client->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}});
  ASSERT_TRUE(id.has_value());
  p.pump();  // the server has the request, nobody answered it
  auto server = p.server->exportState();
  ASSERT_FALSE(server.has_value());
  EXPECT_NE(server.error().message().find("is not answered yet"), std::string::npos)
      << server.error().message();
  auto client = p.client->exportState();
  ASSERT_FALSE(client.has_value());
  EXPECT_NE(client.error().message().find("has no response yet"), std::string::npos)
      << client.error().message();
  ASSERT_TRUE(p.server->respond(*id, 200).has_value());
  p.pump();
  EXPECT_TRUE(p.server->exportState().has_value());
  EXPECT_TRUE(p.client->exportState().has_value());
}

TEST(Http2SessionState, RefusesASessionGoingAway) {
  SessionPair p(exportable(), exportable());
  openTunnel(p);
  p.server->goAway();
  p.pump();
  auto st = p.client->exportState();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("going away"), std::string::npos) << st.error().message();
}

}  // namespace
}  // namespace warren::http2
