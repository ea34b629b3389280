// The order of events a client sees, asserted with the gmock double.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http2/session.h"
#include "tests/common/http2/mock_session_callbacks.h"
#include "tests/common/http2/session_pair.h"

namespace warren::http2 {
namespace {

using ::testing::_;
using ::testing::InSequence;
using ::testing::StrictMock;

// Moves bytes both ways until quiet.
void pump(Session& a, Session& b) {
  for (int i = 0; i < 1000; ++i) {
    bool moved = false;
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
      auto out = from->pendingOutput();
      if (out.empty()) continue;
      moved = true;
      ASSERT_TRUE(to->dispatch(out).has_value());
      from->drainOutput(out.size());
    }
    if (!moved) return;
  }
}

TEST(Http2Events, ErrorResponseThenEndThenClose) {
  StrictMock<testing::MockSessionCallbacks> client_events;
  testing::Recorder server_events;
  server_events.auto_status = 401;
  auto client = Session::create(Role::kClient, {}, client_events, {}).value();
  auto server = Session::create(Role::kServer, {}, server_events, {}).value();
  server_events.session = server.get();
  {
    InSequence order;
    EXPECT_CALL(client_events, onResponse(1, 401, _));
    EXPECT_CALL(client_events, onEndOfStream(1));
    EXPECT_CALL(client_events, onStreamClose(1, kNoError));
  }
  ASSERT_TRUE(client->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}}));
  pump(*client, *server);
}

TEST(Http2Events, TunnelDataThenEndThenCloseThenGoAway) {
  StrictMock<testing::MockSessionCallbacks> client_events;
  testing::Recorder server_events;
  server_events.auto_status = 200;
  auto client = Session::create(Role::kClient, {}, client_events, {}).value();
  auto server = Session::create(Role::kServer, {}, server_events, {}).value();
  server_events.session = server.get();
  {
    InSequence order;
    EXPECT_CALL(client_events, onResponse(1, 200, _));
    EXPECT_CALL(client_events, onData(1, _)).WillOnce([&](StreamId id, auto bytes) {
      EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "pong");
      client->consume(id, bytes.size());
    });
    EXPECT_CALL(client_events, onEndOfStream(1));
    EXPECT_CALL(client_events, onStreamClose(1, kNoError));
    EXPECT_CALL(client_events, onGoAway(1, kNoError));
  }
  ASSERT_TRUE(client->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}}));
  ASSERT_TRUE(client->closeWrite(1).has_value());
  pump(*client, *server);
  ASSERT_TRUE(server->writeData(1, testing::asBytes("pong")).has_value());
  ASSERT_TRUE(server->closeWrite(1).has_value());
  pump(*client, *server);
  server->goAway();
  pump(*client, *server);
  EXPECT_TRUE(client->isClosed());
  EXPECT_TRUE(server->isClosed());
}

}  // namespace
}  // namespace warren::http2
