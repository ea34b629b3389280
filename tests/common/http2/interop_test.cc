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
#include <set>
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

// Our server engine echoes `streams` CONNECT tunnels, one after the other on one connection,
// for h2_connect_client.py. Returns the server's exportState() taken as the last echo ended.
Result<SessionState> echoForPythonH2Client(const SessionConfig& config, int streams) {
  uint16_t port = 0;
  UniqueFd lfd = listenLoopback(port);
  constexpr size_t kBytes = 3 << 20;  // several windows' worth at python-h2's 64 KiB default
  Child client({"/usr/bin/python3", scriptPath("h2_connect_client.py"), std::to_string(port),
                "127.0.0.1:8080", std::to_string(kBytes), std::to_string(streams)},
               false);
  pollfd p{lfd.get(), POLLIN, 0};
  if (poll(&p, 1, 10'000) != 1) {
    ADD_FAILURE() << "client never connected";
    return fail(Error::invalid("no client"));
  }
  UniqueFd fd(accept4(lfd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) {
    ADD_FAILURE() << "accept failed";
    return fail(Error::invalid("no client"));
  }

  testing::Recorder events;
  events.auto_consume = false;  // echo under the backpressure contract
  std::map<StreamId, std::deque<uint8_t>> pending;
  std::vector<std::expected<hbone::ParsedConnect, hbone::ConnectError>> decisions;
  auto session = Session::create(Role::kServer, config, events, Clock::now()).value();
  events.session = session.get();
  events.on_request = [&](StreamId id, const HeaderList& headers) {
    decisions.push_back(hbone::parseConnect(headers));
    EXPECT_TRUE(session->respond(id, decisions.back() ? 200 : 400).has_value());
  };
  // Copy DATA into the pending echo; consume() only once the engine took it back.
  uint64_t echoed = 0;
  std::set<StreamId> closed_write;
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
      if (q.empty() && events.ended.contains(id) && !closed_write.contains(id) &&
          session->closeWrite(id).has_value()) {
        closed_write.insert(id);
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
  const StreamId last = 2 * streams - 1;
  Result<SessionState> state = fail(Error::invalid("the echo did not finish"));
  bool ok = drive(
      fd.get(), *session,
      [&] {
        if (!(closed_write.contains(last) && session->bufferedSendBytes(last) == 0 &&
              !session->wantsWrite() && events.closed.contains(last))) {
          return false;
        }
        state = session->exportState();
        return true;
      },
      each, 20s);
  EXPECT_TRUE(ok);
  EXPECT_EQ(decisions.size(), static_cast<size_t>(streams));
  for (const auto& d : decisions) {
    EXPECT_TRUE(d.has_value() && d->traceparent.has_value())
        << (d ? "no traceparent" : d.error().detail);
  }
  EXPECT_EQ(echoed, kBytes * static_cast<size_t>(streams));
  // Let the client finish reading; it exits 0 only if every echo matched byte for byte.
  drive(
      fd.get(), *session, [] { return false; }, {}, 300ms);
  EXPECT_EQ(client.wait(10s), 0);
  return state;
}

TEST(Http2Interop, OurServerWithPythonH2Client) {
  if (!havePythonH2()) GTEST_SKIP() << "/usr/bin/python3 cannot import h2 (Debian python3-h2)";
  echoForPythonH2Client({}, 1);
}

// As HBONE connections run: SETTINGS_HEADER_TABLE_SIZE 0. The second tunnel's HEADERS follow
// our SETTINGS, so python-h2's encoder must announce the smaller table (RFC 7541 §4.2) or our
// decoder fails the connection; and with both tables empty the session exports.
TEST(Http2Interop, PythonH2ClientHonoursAnEmptyHeaderTable) {
  if (!havePythonH2()) GTEST_SKIP() << "/usr/bin/python3 cannot import h2 (Debian python3-h2)";
  SessionConfig config;
  config.hpack_dynamic_table = false;
  auto state = echoForPythonH2Client(config, 2);
  ASSERT_TRUE(state.has_value()) << state.error().message();
  EXPECT_EQ(state->last_peer_stream, 3);
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
