#include "common/http/http_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/http/http_client.h"

namespace warren::http {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/warren-http-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Router testRouter() {
  Router r;
  r.add("GET", "/hello", [](const HttpRequest& req) {
    return HttpResponse::text(200, "hello " + req.queryOr("name", "world"));
  });
  r.add("PUT", "/echo", [](const HttpRequest& req) { return HttpResponse::json(200, req.body); });
  return r;
}

UniqueFd connectUnix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// Reads until the peer closes or `until` appears or 5 s pass.
std::string readSome(int fd, const std::string& until = "", int timeout_ms = 5000) {
  std::string got;
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (!until.empty() && got.find(until) != std::string::npos) break;
  }
  return got;
}

bool peerClosed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

TEST(HttpServer, UnixSocketServesAndCleansUp) {
  TempDir dir;
  std::string path = dir.path() + "/admin.sock";
  {
    auto server =
        HttpServer::start(HttpServerOptions::at(ListenAddress::unixSocket(path)), testRouter());
    ASSERT_TRUE(server) << server.error().message();
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    auto r = httpRequest((*server)->address(), ClientRequest::get("/hello?name=warren%20ctl"));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello warren ctl");
    EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");

    auto put =
        httpRequest((*server)->address(), ClientRequest::withMethod("PUT", "/echo", R"({"a":1})"));
    ASSERT_TRUE(put);
    EXPECT_EQ(put->body, R"({"a":1})");
    EXPECT_EQ(put->content_type, "application/json");

    auto nf = httpRequest((*server)->address(), ClientRequest::get("/missing"));
    ASSERT_TRUE(nf);
    EXPECT_EQ(nf->status, 404);
    auto na = httpRequest((*server)->address(), ClientRequest::withMethod("DELETE", "/hello"));
    ASSERT_TRUE(na);
    EXPECT_EQ(na->status, 405);
    EXPECT_GE((*server)->requestsServed(), 4u);
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "socket file left behind";
}

TEST(HttpServer, StaleSocketReplacedButRegularFileRefused) {
  TempDir dir;
  std::string path = dir.path() + "/admin.sock";
  {
    auto first =
        HttpServer::start(HttpServerOptions::at(ListenAddress::unixSocket(path)), testRouter());
  }
  // Simulate a crash that left the socket file: bind a raw socket and close it.
  {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  auto again =
      HttpServer::start(HttpServerOptions::at(ListenAddress::unixSocket(path)), testRouter());
  ASSERT_TRUE(again) << again.error().message();
  again->reset();

  std::string regular = dir.path() + "/not-a-socket";
  {
    std::FILE* f = std::fopen(regular.c_str(), "w");
    std::fclose(f);
  }
  auto refused =
      HttpServer::start(HttpServerOptions::at(ListenAddress::unixSocket(regular)), testRouter());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("non-socket"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(regular));
}

TEST(HttpServer, TcpPortZeroAndBindErrors) {
  auto server = HttpServer::start(
      HttpServerOptions::at(ListenAddress::tcp(net::SocketAddress::loopbackV4(0))), testRouter());
  ASSERT_TRUE(server) << server.error().message();
  ASSERT_NE((*server)->address().socket_address.port, 0);
  auto r = httpRequest((*server)->address(), ClientRequest::get("/hello"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "hello world");

  // The same port again is taken: the error names the address.
  auto dup = HttpServer::start(HttpServerOptions::at((*server)->address()), testRouter());
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find((*server)->address().toString()), std::string::npos);
  EXPECT_EQ(dup.error().sysErrno(), EADDRINUSE);
}

TEST(HttpServer, KeepAliveAndPipelining) {
  TempDir dir;
  auto server = HttpServer::start(
      HttpServerOptions::at(ListenAddress::unixSocket(dir.path() + "/s")), testRouter());
  ASSERT_TRUE(server);
  UniqueFd fd = connectUnix((*server)->address().path);
  std::string two =
      "GET /hello?name=a HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?name=b HTTP/1.1\r\nHost: "
      "x\r\n\r\n";
  ASSERT_EQ(::send(fd.get(), two.data(), two.size(), 0), static_cast<ssize_t>(two.size()));
  std::string got = readSome(fd.get(), "hello b");
  EXPECT_NE(got.find("hello a"), std::string::npos);
  EXPECT_NE(got.find("hello b"), std::string::npos);
  EXPECT_EQ(got.find("Connection: close"), std::string::npos);
  // The connection is still usable.
  std::string third = "GET /hello?name=c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd.get(), third.data(), third.size(), 0), static_cast<ssize_t>(third.size()));
  got = readSome(fd.get());
  EXPECT_NE(got.find("hello c"), std::string::npos);
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
}

// A client pipelining requests without reading the answers: the server answers one at a time
// and parses the next only once the previous answer is written, so it never holds more than
// one response; reading then yields every answer, in order.
TEST(HttpServer, PipeliningWithoutReadingHoldsOneResponse) {
  TempDir dir;
  Router router;
  router.add("GET", "/big", [](const HttpRequest& req) {
    return HttpResponse::text(200, req.queryOr("n") + ":" + std::string(1 << 20, 'b'));
  });
  auto server = HttpServer::start(
      HttpServerOptions::at(ListenAddress::unixSocket(dir.path() + "/s")), std::move(router));
  ASSERT_TRUE(server);
  UniqueFd fd = connectUnix((*server)->address().path);
  std::string pipeline;
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i)
    pipeline += "GET /big?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd.get(), pipeline.data(), pipeline.size(), 0),
            static_cast<ssize_t>(pipeline.size()));
  // However long we wait, a 1 MiB answer cannot leave the server while nobody reads.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ((*server)->requestsServed(), 1u);
  std::string got;
  size_t want = 0;
  for (int i = 0; i < kRequests; ++i) want += (1 << 20) + 64;  // a lower bound
  while (got.size() < want) {
    std::string more = readSome(fd.get(), "", 2000);
    if (more.empty()) break;
    got += more;
  }
  size_t pos = 0;
  for (int i = 0; i < kRequests; ++i) {
    pos = got.find("\r\n\r\n" + std::to_string(i) + ":", pos);
    ASSERT_NE(pos, std::string::npos) << "answer " << i << " missing or out of order";
  }
  EXPECT_EQ((*server)->requestsServed(), static_cast<uint64_t>(kRequests));
}

TEST(HttpServer, ExpectContinueGetsA100BeforeTheBody) {
  TempDir dir;
  auto server = HttpServer::start(
      HttpServerOptions::at(ListenAddress::unixSocket(dir.path() + "/s")), testRouter());
  ASSERT_TRUE(server);
  UniqueFd fd = connectUnix((*server)->address().path);
  std::string head =
      "PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  ASSERT_EQ(::send(fd.get(), head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  EXPECT_EQ(readSome(fd.get(), "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(::send(fd.get(), "\"ok\"", 4, 0), 4);
  std::string got = readSome(fd.get(), "\"ok\"");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\n\"ok\"")) << got;
}

TEST(HttpServer, BadInputAnswersAndCloses) {
  TempDir dir;
  auto opts = HttpServerOptions::at(ListenAddress::unixSocket(dir.path() + "/s"));
  opts.limits.max_body_bytes = 16;
  auto server = HttpServer::start(opts, testRouter());
  ASSERT_TRUE(server);
  struct Case {
    std::string bytes;
    std::string status_line;
  };
  const Case cases[] = {
      {"\x16\x03\x01 garbage", "HTTP/1.1 400 "},  // no line end needed to refuse it
      {"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", "HTTP/1.1 413 "},
      {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n", "HTTP/1.1 414 "},
      {"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(20000, 'v') + "\r\n\r\n", "HTTP/1.1 431 "},
      {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},  // no Host
      {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       "HTTP/1.1 400 "},
  };
  for (const auto& c : cases) {
    UniqueFd fd = connectUnix((*server)->address().path);
    ::send(fd.get(), c.bytes.data(), c.bytes.size(), MSG_NOSIGNAL);
    std::string got = readSome(fd.get());
    EXPECT_TRUE(got.starts_with(c.status_line)) << got.substr(0, 80);
    EXPECT_NE(got.find("Connection: close"), std::string::npos);
  }
  // After all that the server still answers.
  auto r = httpRequest((*server)->address(), ClientRequest::get("/hello"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, IdleAndConnectionLimits) {
  TempDir dir;
  auto opts = HttpServerOptions::at(ListenAddress::unixSocket(dir.path() + "/s"));
  opts.idle_timeout = std::chrono::milliseconds(300);
  opts.max_connections = 2;
  auto server = HttpServer::start(opts, testRouter());
  ASSERT_TRUE(server);
  UniqueFd a = connectUnix((*server)->address().path);
  UniqueFd b = connectUnix((*server)->address().path);
  ::send(a.get(), "GET /hel", 8, 0);  // stuck mid-request
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  UniqueFd c = connectUnix((*server)->address().path);  // over the limit: closed at once
  EXPECT_TRUE(peerClosed(c.get()));
  EXPECT_TRUE(peerClosed(a.get()));  // idle timeout
  EXPECT_TRUE(peerClosed(b.get()));
}

TEST(HttpClient, UnreachableSocketNamesThePath) {
  auto r = httpRequest(ListenAddress::unixSocket("/tmp/warren-no-such-dir/admin.sock"), [] {
    auto c = ClientRequest::get("/x");
    c.timeout = std::chrono::milliseconds(500);
    return c;
  }());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("/tmp/warren-no-such-dir/admin.sock"), std::string::npos);
}

}  // namespace
}  // namespace warren::http
