// Interop over real loopback TCP against an independent HTTP/2 implementation (Debian's
// python3-h2, run by /usr/bin/python3): our server engine with their client, our client engine
// with their server. Skips with a reason when python3-h2 is missing.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>

#include "common/hbone/connect_request.h"
#include "common/http2/session.h"
#include "common/unique_fd.h"
#include "tests/common/http2/interop_util.h"
#include "tests/common/http2/session_pair.h"

extern char** environ;

namespace warren::http2 {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::drive;
using testing::havePythonH2;
using testing::listenLoopback;
using testing::scriptPath;

TEST(Http2Interop, OurServerWithPythonH2Client) {
  if (!havePythonH2()) GTEST_SKIP() << "/usr/bin/python3 cannot import h2 (Debian python3-h2)";
  uint16_t port = 0;
  UniqueFd lfd = listenLoopback(port);
  constexpr size_t kBytes = 3 << 20;  // several windows' worth at python-h2's 64 KiB default
  Child client({"/usr/bin/python3", scriptPath("h2_connect_client.py"), std::to_string(port),
                "127.0.0.1:8080", std::to_string(kBytes)},
               false);
  pollfd p{lfd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10'000), 1) << "client never connected";
  UniqueFd fd(accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(fd.valid());

  testing::Recorder events;
  events.auto_consume = false;  // echo under the backpressure contract
  std::map<StreamId, std::deque<uint8_t>> pending;
  std::vector<std::expected<hbone::ParsedConnect, hbone::ConnectError>> decisions;
  auto session = Session::create(Role::kServer, {}, events, Clock::now()).value();
  events.session = session.get();
  events.on_request = [&](StreamId id, const HeaderList& headers) {
    decisions.push_back(hbone::parseConnect(headers));
    EXPECT_TRUE(session->respond(id, decisions.back() ? 200 : 400).has_value());
  };
  // Copy DATA into the pending echo; consume() only once the engine took it back.
  uint64_t echoed = 0;
  bool closed_write = false;
  auto pump = [&] {
    for (auto& [id, q] : pending) {
      while (!q.empty()) {
        size_t room = session->writableBytes(id);
        if (room == 0) break;
        std::vector<uint8_t> chunk(
            q.begin(), q.begin() + static_cast<std::ptrdiff_t>(std::min(room, q.size())));
        size_t n = session->writeData(id, chunk).value_or(0);
        q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
        session->consume(id, n);
        echoed += n;
        if (n == 0) break;
      }
      if (q.empty() && events.ended.contains(id) && !closed_write) {
        closed_write = session->closeWrite(id).has_value();
      }
    }
  };
  // The recorder keeps what arrived; move it into the echo queue each round.
  auto each = [&] {
    for (auto& [id, s] : events.data) {
      pending[id].insert(pending[id].end(), s.begin(), s.end());
      s.clear();
    }
    pump();
  };
  bool ok = drive(
      fd.get(), *session,
      [&] {
        return closed_write && session->bufferedSendBytes(1) == 0 && !session->wantsWrite() &&
               events.closed.contains(1);
      },
      each, 20s);
  EXPECT_TRUE(ok);
  ASSERT_EQ(decisions.size(), 1u);
  ASSERT_TRUE(decisions[0].has_value()) << decisions[0].error().detail;
  EXPECT_TRUE(decisions[0]->traceparent.has_value());
  EXPECT_EQ(echoed, kBytes);
  // Let the client finish reading; it exits 0 only if the echo matched byte for byte.
  drive(
      fd.get(), *session, [] { return false; }, {}, 300ms);
  EXPECT_EQ(client.wait(10s), 0);
}

// nghttp (nghttp2's own client, a third implementation) speaks h2c with prior knowledge and
// sends an ordinary GET: HBONE validation answers 400 and the connection survives.
TEST(Http2Interop, NghttpGetIsAnswered400) {
  if (access("/usr/bin/nghttp", X_OK) != 0)
    GTEST_SKIP() << "/usr/bin/nghttp missing (nghttp2-client)";
  uint16_t port = 0;
  UniqueFd lfd = listenLoopback(port);
  Child client(
      {"/usr/bin/nghttp", "-v", "-t", "10", "http://127.0.0.1:" + std::to_string(port) + "/probe"},
      true);
  pollfd p{lfd.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10'000), 1) << "nghttp never connected";
  UniqueFd fd(accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  testing::Recorder events;
  std::vector<std::expected<hbone::ParsedConnect, hbone::ConnectError>> decisions;
  auto session = Session::create(Role::kServer, {}, events, Clock::now()).value();
  events.session = session.get();
  events.on_request = [&](StreamId id, const HeaderList& headers) {
    decisions.push_back(hbone::parseConnect(headers));
    EXPECT_TRUE(session->respond(id, decisions.back() ? 200 : 400).has_value());
  };
  // nghttp closes the connection (GOAWAY, then EOF) once its request is done.
  drive(
      fd.get(), *session, [&] { return session->isClosed(); }, {}, 10s);
  ASSERT_EQ(decisions.size(), 1u);
  ASSERT_FALSE(decisions[0].has_value());
  EXPECT_EQ(decisions[0].error().kind, hbone::ConnectError::Kind::kNotConnect);
  fd.reset();
  std::string output = client.readAll(5s);
  EXPECT_NE(output.find(":status: 400"), std::string::npos) << output;
  EXPECT_EQ(client.wait(10s), 0);
}

TEST(Http2Interop, OurClientWithPythonH2Server) {
  if (!havePythonH2()) GTEST_SKIP() << "/usr/bin/python3 cannot import h2 (Debian python3-h2)";
  Child server({"/usr/bin/python3", scriptPath("h2_echo_server.py")}, true);
  std::string port = server.readLine(10s);
  ASSERT_FALSE(port.empty()) << "server printed no port";

  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
  ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);

  testing::Recorder events;
  events.keep_data = false;
  events.verify_pattern = true;
  auto session = Session::create(Role::kClient, {}, events, Clock::now()).value();
  events.session = session.get();
  auto id = session->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:8080"}});
  ASSERT_TRUE(id.has_value());

  constexpr uint64_t kBytes = 4 << 20;
  uint64_t sent = 0;
  bool closed = false;
  auto each = [&] {
    if (events.responses[*id] != 200) return;
    while (sent < kBytes) {
      size_t room = std::min<uint64_t>(session->writableBytes(*id), kBytes - sent);
      if (room == 0) break;
      sent += session->writeData(*id, testing::patternBytes(sent, room)).value();
    }
    if (sent == kBytes && !closed) closed = session->closeWrite(*id).has_value();
  };
  bool ok = drive(
      fd.get(), *session, [&] { return events.closed.contains(*id); }, each, 20s);
  EXPECT_TRUE(ok);
  EXPECT_EQ(events.responses[*id], 200);
  EXPECT_EQ(events.received[*id], kBytes);
  EXPECT_EQ(events.pattern_mismatches, 0u);
  EXPECT_TRUE(events.ended.contains(*id));
  EXPECT_EQ(events.closed[*id], kNoError);
  session->goAway();
  drive(
      fd.get(), *session, [&] { return !session->wantsWrite(); }, {}, 2s);
  fd.reset();
  EXPECT_EQ(server.wait(10s), 0);
}

}  // namespace
}  // namespace warren::http2
