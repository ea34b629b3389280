// Ordinary HTTP/2 requests over real loopback TCP against independent implementations:
// our server engine with python3-h2's client and with nghttp (nghttp2-client), our client engine
// with python3-h2's server and with nghttpd (nghttp2-server). Bodies cross several flow-control
// windows, trailers go both ways. Each test skips with a reason when its peer is missing.
#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "common/http2/session.h"
#include "tests/common/http2/interop_util.h"
#include "tests/common/http2/session_pair.h"

namespace warren::http2 {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::drive;
using testing::havePythonH2;
using testing::listenLoopback;
using testing::scriptPath;

// The server application for these tests: POST /upload is answered 201 (x-echo: yes) with its
// body echoed as it arrives (consumed only once the engine took it back), then the trailer
// x-got-trailer carrying the request's x-sum trailer; anything else gets 404 "no such path P".
class EchoApp : public SessionCallbacks {
 public:
  Session* session = nullptr;
  std::map<StreamId, std::deque<uint8_t>> pending;
  std::map<StreamId, std::string> request_trailer;
  std::set<StreamId> request_ended;
  std::set<StreamId> finished;
  std::set<StreamId> closed;
  std::vector<HeaderList> requests;

  void onRequest(StreamId id, const HeaderList& headers) override {
    requests.push_back(headers);
    const std::string path = *findHeader(headers, ":path");
    if (path == "/upload") {
      EXPECT_TRUE(session->respond(id, 201, {{"x-echo", "yes"}}, Body::kFollows).has_value());
      pending[id];
      return;
    }
    std::string body = "no such path " + path;
    EXPECT_TRUE(
        session->respond(id, 404, {{"content-length", std::to_string(body.size())}}, Body::kFollows)
            .has_value());
    EXPECT_EQ(session->writeData(id, testing::asBytes(body)).value_or(0), body.size());
    EXPECT_TRUE(session->closeWrite(id).has_value());
    finished.insert(id);
  }
  void onResponse(StreamId, int, const HeaderList&) override {}
  void onData(StreamId id, std::span<const uint8_t> bytes) override {
    auto it = pending.find(id);
    if (it == pending.end()) {
      session->consume(id, bytes.size());
      return;
    }
    it->second.insert(it->second.end(), bytes.begin(), bytes.end());
  }
  void onTrailers(StreamId id, const HeaderList& trailers) override {
    const std::string* sum = findHeader(trailers, "x-sum");
    request_trailer[id] = sum ? *sum : "none";
  }
  void onEndOfStream(StreamId id) override { request_ended.insert(id); }
  void onStreamClose(StreamId id, uint32_t) override { closed.insert(id); }
  void onStreamWritable(StreamId) override {}
  void onGoAway(uint32_t, uint32_t) override {}

  // Echo what the send buffers take; finish a stream once its request ended and all is out.
  void pump() {
    for (auto& [id, q] : pending) {
      while (!q.empty()) {
        size_t room = std::min(session->writableBytes(id), q.size());
        if (room == 0) break;
        std::vector<uint8_t> chunk(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(room));
        size_t n = session->writeData(id, chunk).value_or(0);
        q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
        session->consume(id, n);
        if (n == 0) break;
      }
      if (q.empty() && request_ended.contains(id) && !finished.contains(id)) {
        std::string got = request_trailer.contains(id) ? request_trailer[id] : "none";
        EXPECT_TRUE(session->sendTrailers(id, {{"x-got-trailer", got}}).has_value());
        finished.insert(id);
      }
    }
  }
};

// Accepts one connection on `lfd` and serves it with EchoApp until the peer closes.
void serveOne(int lfd, EchoApp& app, std::chrono::milliseconds timeout) {
  pollfd p{lfd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10'000), 1) << "the client never connected";
  UniqueFd fd(accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  auto session = Session::create(Role::kServer, {}, app, Clock::now()).value();
  app.session = session.get();
  drive(
      fd.get(), *session, [&] { return session->isClosed(); }, [&] { app.pump(); }, timeout);
}

TEST(Http2RequestInterop, OurServerWithPythonH2Client) {
  if (!havePythonH2()) GTEST_SKIP() << "/usr/bin/python3 cannot import h2 (Debian python3-h2)";
  uint16_t port = 0;
  UniqueFd lfd = listenLoopback(port);
  constexpr size_t kBytes = 1 << 20;  // 16 windows at python-h2's 64 KiB default
  Child client({"/usr/bin/python3", scriptPath("h2_request_peer.py"), "client",
                std::to_string(port), std::to_string(kBytes)},
               false);
  EchoApp app;
  serveOne(lfd.get(), app, 20s);
  ASSERT_EQ(app.requests.size(), 2u);
  EXPECT_EQ(*findHeader(app.requests[0], ":method"), "POST");
  EXPECT_EQ(*findHeader(app.requests[1], ":path"), "/missing");
  EXPECT_EQ(app.request_trailer[1], std::to_string(kBytes));
  // The client exits 0 only if status, header, echoed body, trailers and the 404 all matched.
  EXPECT_EQ(client.wait(10s), 0);
}

TEST(Http2RequestInterop, OurServerWithNghttpClient) {
  if (access("/usr/bin/nghttp", X_OK) != 0)
    GTEST_SKIP() << "/usr/bin/nghttp missing (nghttp2-client)";
  auto dir =
      std::filesystem::temp_directory_path() / ("warren-h2-nghttp-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string body;
  for (int i = 0; i < 8000; ++i) body += "warren line " + std::to_string(i) + "\n";  // ~130 KiB
  std::ofstream(dir / "body.txt") << body;
  uint16_t port = 0;
  UniqueFd lfd = listenLoopback(port);
  // nghttp's output (frames and the echoed body) goes to a file: a pipe nobody reads while we
  // serve would fill and stall it.
  Child client({"/bin/sh", "-c",
                "exec /usr/bin/nghttp -v -t 10 -d " + (dir / "body.txt").string() +
                    " --trailer 'x-sum: " + std::to_string(body.size()) + "' http://127.0.0.1:" +
                    std::to_string(port) + "/upload > " + (dir / "out.txt").string()},
               false);
  EchoApp app;
  serveOne(lfd.get(), app, 20s);
  EXPECT_EQ(client.wait(10s), 0);
  std::stringstream out;
  out << std::ifstream(dir / "out.txt").rdbuf();
  std::string output = out.str();
  std::filesystem::remove_all(dir);
  ASSERT_EQ(app.requests.size(), 1u);
  EXPECT_EQ(*findHeader(app.requests[0], ":method"), "POST");
  ASSERT_EQ(app.request_trailer.size(), 1u);  // (nghttp does not start at stream 1)
  EXPECT_EQ(app.request_trailer.begin()->second, std::to_string(body.size()));
  EXPECT_NE(output.find(":status: 201"), std::string::npos) << output.substr(0, 6000);
  EXPECT_NE(output.find("x-echo: yes"), std::string::npos);
  EXPECT_NE(output.find("x-got-trailer: " + std::to_string(body.size())), std::string::npos);
  EXPECT_NE(output.find("warren line 7999\n"), std::string::npos) << "echoed body incomplete";
}

TEST(Http2RequestInterop, OurClientWithPythonH2Server) {
  if (!havePythonH2()) GTEST_SKIP() << "/usr/bin/python3 cannot import h2 (Debian python3-h2)";
  Child server({"/usr/bin/python3", scriptPath("h2_request_peer.py"), "server"}, true);
  std::string port = server.readLine(10s);
  ASSERT_FALSE(port.empty()) << "server printed no port";
  UniqueFd fd = testing::connectLoopback(static_cast<uint16_t>(std::stoi(port)), 5s);
  ASSERT_TRUE(fd.valid());

  testing::Recorder events;
  auto session = Session::create(Role::kClient, {}, events, Clock::now()).value();
  events.session = session.get();
  constexpr uint64_t kBytes = 512u << 10;
  auto post = session->openStream({{":method", "POST"},
                                   {":scheme", "http"},
                                   {":authority", "echo.test"},
                                   {":path", "/upload"},
                                   {"te", "trailers"}},
                                  Body::kFollows);
  auto get = session->openStream(
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "echo.test"}, {":path", "/a?b=c"}},
      Body::kNone);
  ASSERT_TRUE(post.has_value());
  ASSERT_TRUE(get.has_value());
  uint64_t sent = 0;
  bool trailers = false;
  auto each = [&] {
    while (sent < kBytes) {
      size_t room = std::min<uint64_t>(session->writableBytes(*post), kBytes - sent);
      if (room == 0) break;
      sent += session->writeData(*post, testing::patternBytes(sent, room)).value();
    }
    if (sent == kBytes && !trailers) {
      trailers = session->sendTrailers(*post, {{"x-sum", std::to_string(kBytes)}}).has_value();
    }
  };
  bool ok = drive(
      fd.get(), *session,
      [&] { return events.closed.contains(*post) && events.closed.contains(*get); }, each, 20s);
  EXPECT_TRUE(ok);
  EXPECT_EQ(events.responses[*post], 200);
  EXPECT_EQ(*findHeader(events.response_headers[*post], "x-method"), "POST");
  EXPECT_EQ(*findHeader(events.response_headers[*post], "x-body-bytes"), std::to_string(kBytes));
  EXPECT_EQ(
      events.data[*post],
      std::string(reinterpret_cast<const char*>(testing::patternBytes(0, kBytes).data()), kBytes));
  EXPECT_EQ(events.trailers[*post],
            (HeaderList{{"x-got-trailer", std::to_string(kBytes)}, {"x-done", "1"}}));
  EXPECT_EQ(*findHeader(events.response_headers[*get], "x-path"), "/a?b=c");
  EXPECT_EQ(*findHeader(events.response_headers[*get], "x-body-bytes"), "0");
  EXPECT_EQ(events.closed[*post], kNoError);
  EXPECT_EQ(events.closed[*get], kNoError);
  session->goAway();
  drive(
      fd.get(), *session, [&] { return !session->wantsWrite(); }, {}, 2s);
  fd.reset();
  EXPECT_EQ(server.wait(10s), 0);
}

TEST(Http2RequestInterop, OurClientWithNghttpd) {
  if (access("/usr/sbin/nghttpd", X_OK) != 0)
    GTEST_SKIP() << "/usr/sbin/nghttpd missing (nghttp2-server)";
  auto dir =
      std::filesystem::temp_directory_path() / ("warren-h2-nghttpd-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string file = std::string(300u << 10, 'x') + "end of file\n";  // > 4 python windows
  std::ofstream(dir / "file.txt") << file;
  uint16_t port = testing::freeLoopbackPort();
  Child server({"/usr/sbin/nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", dir.string(), "--trailer",
                "x-served-by: nghttpd", std::to_string(port)},
               true);
  UniqueFd fd = testing::connectLoopback(port, 5s);
  ASSERT_TRUE(fd.valid()) << "nghttpd did not listen on " << port;

  testing::Recorder events;
  auto session = Session::create(Role::kClient, {}, events, Clock::now()).value();
  events.session = session.get();
  auto request = [&](const std::string& path) {
    return session
        ->openStream({{":method", "GET"},
                      {":scheme", "http"},
                      {":authority", "127.0.0.1:" + std::to_string(port)},
                      {":path", path}},
                     Body::kNone)
        .value();
  };
  StreamId found = request("/file.txt");
  StreamId missing = request("/no-such-file");
  bool ok = drive(
      fd.get(), *session,
      [&] { return events.closed.contains(found) && events.closed.contains(missing); }, {}, 20s);
  std::filesystem::remove_all(dir);
  EXPECT_TRUE(ok);
  EXPECT_EQ(events.responses[found], 200);
  ASSERT_NE(findHeader(events.response_headers[found], "content-length"), nullptr);
  EXPECT_EQ(*findHeader(events.response_headers[found], "content-length"),
            std::to_string(file.size()));
  EXPECT_EQ(events.data[found], file);
  EXPECT_EQ(events.trailers[found], (HeaderList{{"x-served-by", "nghttpd"}}));
  EXPECT_EQ(events.responses[missing], 404);
  EXPECT_EQ(events.closed[found], kNoError);
}

}  // namespace
}  // namespace warren::http2
