// warren-echo's server on real loopback sockets (lab/echo/echo_server.h): several ports, keep-
// alive over one connection, a large chunked upload counted, pipelined requests answered in
// order, a bad request refused and closed, a delay honoured, and the destructor stopping with
// connections still open.
#include "lab/echo/echo_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "echo_responses.h"

namespace warren::echo {
namespace {

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  bool connected() const { return connected_; }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << std::strerror(errno);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until `count` responses are complete or the server closes (10 s at most: a hung server
  // fails the test instead of hanging it). Returns whether the server closed.
  bool readResponses(ResponseReader& reader, size_t count) {
    char buf[16384];
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reader.responses.size() < count) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) == 0) {
        if (std::chrono::steady_clock::now() > end) {
          ADD_FAILURE() << "timed out with " << reader.responses.size() << " responses";
          return false;
        }
        continue;
      }
      ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
      if (n <= 0) return true;
      if (!reader.feed(std::string_view(buf, static_cast<size_t>(n)))) return false;
    }
    return false;
  }
  // True when the server closed its side (EOF) within 5 s.
  bool closedByServer() {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    char b;
    return ::recv(fd_.get(), &b, 1, 0) == 0;
  }

 private:
  UniqueFd fd_;
  bool connected_ = false;
};

std::unique_ptr<EchoServer> startServer(size_t ports = 1) {
  EchoServerOptions o;
  for (size_t i = 0; i < ports; ++i) o.listen.push_back(net::SocketAddress::loopbackV4(0));
  o.context = EchoContext{"ns", "", "echo", "echo-v1-0"};
  o.idle_timeout = std::chrono::seconds(5);
  auto s = EchoServer::start(o);
  EXPECT_TRUE(s.has_value()) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

TEST(EchoServer, ServesEveryPortWithKeepAlive) {
  auto server = startServer(2);
  ASSERT_TRUE(server);
  ASSERT_EQ(server->addresses().size(), 2u);
  for (const auto& addr : server->addresses()) {
    SCOPED_TRACE(addr.toString());
    ASSERT_NE(addr.port, 0);
    Client c(addr.port);
    ASSERT_TRUE(c.connected());
    ResponseReader reader;
    for (int i = 0; i < 3; ++i) {
      std::string target = "/r" + std::to_string(i);
      c.send("GET " + target + " HTTP/1.1\r\nHost: echo\r\n\r\n");
      reader.expect("GET");
      ASSERT_FALSE(c.readResponses(reader, static_cast<size_t>(i + 1)));  // still open
      auto j = nlohmann::json::parse(reader.responses.back().body);
      EXPECT_EQ(j["path"], target);
      EXPECT_EQ(j["pod"], "echo-v1-0");
    }
    // One connection served all three: the same client port each time.
    auto first = nlohmann::json::parse(reader.responses[0].body)["peer"];
    EXPECT_EQ(nlohmann::json::parse(reader.responses[2].body)["peer"], first);
  }
  EXPECT_EQ(server->requestsServed(), 6u);
}

TEST(EchoServer, CountsALargeChunkedUploadAndPipelines) {
  auto server = startServer();
  ASSERT_TRUE(server);
  Client c(server->addresses()[0].port);
  ASSERT_TRUE(c.connected());
  ResponseReader reader;
  c.send("POST /upload HTTP/1.1\r\nHost: echo\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string chunk(32 * 1024, 'x');
  const int chunks = 64;  // 2 MiB, far beyond one read
  char size_line[16];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  for (int i = 0; i < chunks; ++i) c.send(std::string(size_line) + chunk + "\r\n");
  // The last chunk, then a pipelined GET in the same write.
  c.send("0\r\n\r\nGET /after HTTP/1.1\r\nHost: echo\r\n\r\n");
  reader.expect("POST");
  reader.expect("GET");
  ASSERT_FALSE(c.readResponses(reader, 2));
  EXPECT_EQ(nlohmann::json::parse(reader.responses[0].body)["bodyBytes"], chunk.size() * chunks);
  EXPECT_EQ(nlohmann::json::parse(reader.responses[1].body)["path"], "/after");
}

TEST(EchoServer, RefusesABadRequestAndCloses) {
  auto server = startServer();
  ASSERT_TRUE(server);
  Client c(server->addresses()[0].port);
  ASSERT_TRUE(c.connected());
  c.send("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
  ResponseReader reader;
  reader.expect("GET");
  c.readResponses(reader, 1);
  ASSERT_EQ(reader.responses.size(), 1u);
  EXPECT_EQ(reader.responses[0].status, 400);
  EXPECT_NE(reader.responses[0].body.find("duplicate_content_length"), std::string::npos);
  EXPECT_TRUE(c.closedByServer());
  // The server goes on serving others.
  Client d(server->addresses()[0].port);
  d.send("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
  ResponseReader ok;
  ok.expect("GET");
  d.readResponses(ok, 1);
  ASSERT_EQ(ok.responses.size(), 1u);
  EXPECT_EQ(ok.responses[0].status, 200);
}

TEST(EchoServer, DelaysTheAnswer) {
  auto server = startServer();
  ASSERT_TRUE(server);
  Client c(server->addresses()[0].port);
  auto start = std::chrono::steady_clock::now();
  c.send("GET /?delay=200ms HTTP/1.1\r\nHost: a\r\n\r\n");
  ResponseReader reader;
  reader.expect("GET");
  c.readResponses(reader, 1);
  ASSERT_EQ(reader.responses.size(), 1u);
  // A lower bound only (the answer can never come before the delay); no upper bound on a
  // shared machine.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST(EchoServer, StopsWithConnectionsOpen) {
  auto server = startServer();
  ASSERT_TRUE(server);
  Client idle(server->addresses()[0].port);
  Client mid(server->addresses()[0].port);
  ASSERT_TRUE(idle.connected() && mid.connected());
  mid.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc");
  // Let the accept loop take both connections before stopping.
  for (int i = 0; i < 50 && server->requestsServed() == 0; ++i) {
    Client probe(server->addresses()[0].port);
    probe.send("GET /ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    ResponseReader r;
    r.expect("GET");
    probe.readResponses(r, 1);
  }
  server.reset();  // must return: shuts the connections down and joins their threads
  EXPECT_TRUE(idle.closedByServer());
}

TEST(EchoServer, ListenErrorsNameTheAddress) {
  auto first = startServer();
  ASSERT_TRUE(first);
  EchoServerOptions o;
  o.listen.push_back(first->addresses()[0]);  // taken
  auto second = EchoServer::start(o);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message().find(first->addresses()[0].toString()), std::string::npos)
      << second.error().message();
  EXPECT_FALSE(EchoServer::start(EchoServerOptions{}).has_value());
}

}  // namespace
}  // namespace warren::echo
