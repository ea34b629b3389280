// warren-echo's HTTP/2 side: the GrpcEcho answers (pure, with golden bytes pinning the
// conformance message layout), and the server on real loopback sockets speaking h2c to our
// common/http2 client (HTTP requests, a delayed stream not holding up another, gRPC calls) and
// to an independent gRPC client (python3-grpcio).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/grpc/message_framer.h"
#include "common/http2/session.h"
#include "gateway_api_conformance/echo_basic/grpcecho.pb.h"
#include "lab/echo/echo_server.h"
#include "lab/echo/grpc_echo.h"
#include "tests/common/http2/interop_util.h"
#include "tests/common/http2/session_pair.h"

namespace warren::echo {
namespace {

using namespace std::chrono_literals;
namespace pb = gateway_api_conformance::echo_basic::grpcecho;
using http2::Body;
using http2::findHeader;
using http2::HeaderList;

const EchoContext kContext{"gateway-conformance-mesh", "", "echo", "echo-v1-abc"};
const std::string kEcho = "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo";

HeaderList grpcHeaders(const std::string& path) {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":authority", "echo:7070"},
          {":path", path},
          {"content-type", "application/grpc"},
          {"te", "trailers"},
          {"grpc-timeout", "5S"},
          {"x-route-added", "yes"}};
}

TEST(GrpcEcho, AnswersLikeTheConformanceServer) {
  auto r = answerGrpcEcho(kEcho, grpcHeaders(kEcho), {""}, kContext);
  ASSERT_EQ(r.status, grpc::GrpcStatus::kOk) << r.message;
  pb::EchoResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.response));
  const auto& a = resp.assertions();
  EXPECT_EQ(a.fully_qualified_method(), kEcho);
  EXPECT_EQ(a.authority(), "echo:7070");
  EXPECT_EQ(a.context().namespace_(), "gateway-conformance-mesh");
  EXPECT_EQ(a.context().pod(), "echo-v1-abc");
  EXPECT_EQ(a.context().service_name(), "echo");
  std::map<std::string, std::string> headers;
  for (const auto& h : a.headers()) headers[h.key()] = h.value();
  EXPECT_EQ(headers[":authority"], "echo:7070");
  EXPECT_EQ(headers["x-route-added"], "yes");
  for (const char* hidden : {"content-type", "te", "grpc-timeout", ":path", ":method"}) {
    EXPECT_FALSE(headers.contains(hidden)) << hidden;
  }
  auto two = answerGrpcEcho(kEcho + "Two", grpcHeaders(kEcho + "Two"), {""}, kContext);
  ASSERT_EQ(two.status, grpc::GrpcStatus::kOk);
  ASSERT_TRUE(resp.ParseFromString(two.response));
  EXPECT_EQ(resp.assertions().fully_qualified_method(), kEcho + "Two");
}

TEST(GrpcEcho, RefusalsCarryTheirStatus) {
  struct Row {
    std::string path;
    std::vector<std::string> messages;
    grpc::GrpcStatus status;
    std::string message;
  };
  const std::vector<Row> rows = {
      {kEcho + "Three", {""}, grpc::GrpcStatus::kUnimplemented, "method EchoThree not implemented"},
      {kEcho + "Four",
       {""},
       grpc::GrpcStatus::kUnimplemented,
       "unknown method EchoFour for service gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"},
      {"/other.Svc/Echo", {""}, grpc::GrpcStatus::kUnimplemented, "unknown service other.Svc"},
      {kEcho, {}, grpc::GrpcStatus::kInternal, "carried 0 request messages, not 1"},
      {kEcho, {"", ""}, grpc::GrpcStatus::kInternal, "carried 2 request messages, not 1"},
      {kEcho,
       {std::string("\x0a\x05", 2)},
       grpc::GrpcStatus::kInternal,
       "grpc: error unmarshalling request"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.path);
    auto r = answerGrpcEcho(row.path, grpcHeaders(row.path), row.messages, kContext);
    EXPECT_EQ(r.status, row.status);
    EXPECT_NE(r.message.find(row.message), std::string::npos) << r.message;
    EXPECT_TRUE(r.response.empty());
  }
}

// The field numbers are the wire contract with upstream clients: pinned byte for byte.
TEST(GrpcEcho, WireLayoutMatchesTheConformanceProto) {
  pb::EchoResponse resp;
  auto* a = resp.mutable_assertions();
  a->set_fully_qualified_method("m");
  auto* h = a->add_headers();
  h->set_key("k");
  h->set_value("v");
  a->set_authority("a");
  a->mutable_context()->set_namespace_("n");
  a->mutable_context()->set_ingress("i");
  a->mutable_context()->set_service_name("s");
  a->mutable_context()->set_pod("p");
  const std::string want =
      std::string("\x0a\x1c", 2) +                    // EchoResponse.assertions = 1
      std::string("\x0a\x01m", 3) +                   // fully_qualified_method = 1
      std::string("\x12\x06\x0a\x01k\x12\x01v", 8) +  // headers = 2 {key = 1, value = 2}
      std::string(
          "\x1a\x01"
          "a",
          3) +                                                          // authority = 3
      std::string("\x22\x0c\x0a\x01n\x12\x01i\x1a\x01s\x22\x01p", 14);  // context = 4 {1,2,3,4}
  EXPECT_EQ(resp.SerializeAsString(), want);
  const auto* service = pb::EchoResponse::descriptor()->file()->FindServiceByName("GrpcEcho");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->full_name(), kGrpcEchoService);
  ASSERT_NE(service->FindMethodByName("EchoThree"), nullptr);
}

std::unique_ptr<EchoServer> startServer() {
  EchoServerOptions o;
  o.listen.push_back(net::SocketAddress::loopbackV4(0));
  o.context = kContext;
  o.idle_timeout = 5s;
  auto s = EchoServer::start(o);
  EXPECT_TRUE(s.has_value()) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

// Our client engine on one h2c connection to the server.
struct H2Client {
  explicit H2Client(uint16_t port) {
    fd = http2::testing::connectLoopback(port, 5s);
    session = http2::Session::create(http2::Role::kClient, {}, events, http2::Clock::now()).value();
    events.session = session.get();
  }
  bool runUntil(const std::function<bool()>& done) {
    return http2::testing::drive(fd.get(), *session, done, {}, 10s);
  }
  UniqueFd fd;
  http2::testing::Recorder events;
  std::unique_ptr<http2::Session> session;
};

TEST(EchoServerH2, AnswersHttpRequestsOverH2c) {
  auto server = startServer();
  ASSERT_TRUE(server);
  H2Client c(server->addresses()[0].port);
  ASSERT_TRUE(c.fd.valid());
  auto slow = c.session->openStream({{":method", "GET"},
                                     {":scheme", "http"},
                                     {":authority", "echo"},
                                     {":path", "/slow?delay=500ms"}},
                                    Body::kNone);
  auto get = c.session->openStream({{":method", "GET"},
                                    {":scheme", "http"},
                                    {":authority", "echo.ns:80"},
                                    {":path", "/a/b?c=d"},
                                    {"x-custom", "1"}},
                                   Body::kNone);
  auto post = c.session->openStream(
      {{":method", "POST"}, {":scheme", "http"}, {":authority", "echo"}, {":path", "/upload"}},
      Body::kFollows);
  auto status = c.session->openStream(
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "echo"}, {":path", "/status/418"}},
      Body::kNone);
  ASSERT_TRUE(slow && get && post && status);
  std::vector<uint8_t> body(100'000, 'u');
  ASSERT_EQ(c.session->writeData(*post, body).value(), body.size());
  ASSERT_TRUE(c.session->closeWrite(*post).has_value());
  std::vector<http2::StreamId> order;
  ASSERT_TRUE(c.runUntil([&] {
    for (auto id : {*slow, *get, *post, *status}) {
      if (c.events.closed.contains(id) && std::find(order.begin(), order.end(), id) == order.end())
        order.push_back(id);
    }
    return order.size() == 4;
  }));
  // The delayed stream did not hold the others up.
  EXPECT_EQ(order.back(), *slow);

  auto j = nlohmann::json::parse(c.events.data[*get]);
  EXPECT_EQ(c.events.responses[*get], 200);
  EXPECT_EQ(j["proto"], "HTTP/2.0");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/a/b?c=d");
  EXPECT_EQ(j["host"], "echo.ns:80");
  EXPECT_EQ(j["pod"], "echo-v1-abc");
  EXPECT_EQ(j["headers"]["X-Custom"][0], "1");
  EXPECT_EQ(*findHeader(c.events.response_headers[*get], "content-length"),
            std::to_string(c.events.data[*get].size()));
  EXPECT_EQ(nlohmann::json::parse(c.events.data[*post])["bodyBytes"], body.size());
  EXPECT_EQ(c.events.responses[*status], 418);
  EXPECT_EQ(nlohmann::json::parse(c.events.data[*slow])["path"], "/slow?delay=500ms");
  EXPECT_EQ(server->requestsServed(), 4u);
}

TEST(EchoServerH2, ServesGrpcEchoToOurClient) {
  auto server = startServer();
  ASSERT_TRUE(server);
  H2Client c(server->addresses()[0].port);
  ASSERT_TRUE(c.fd.valid());
  std::vector<uint8_t> request;
  grpc::appendMessage(request, {});  // an empty EchoRequest
  auto echo = c.session->openStream(grpcHeaders(kEcho), Body::kFollows);
  auto three = c.session->openStream(grpcHeaders(kEcho + "Three"), Body::kFollows);
  ASSERT_TRUE(echo && three);
  for (auto id : {*echo, *three}) {
    ASSERT_EQ(c.session->writeData(id, request).value(), request.size());
    ASSERT_TRUE(c.session->closeWrite(id).has_value());
  }
  ASSERT_TRUE(c.runUntil(
      [&] { return c.events.closed.contains(*echo) && c.events.closed.contains(*three); }));

  EXPECT_EQ(c.events.responses[*echo], 200);
  EXPECT_EQ(*findHeader(c.events.response_headers[*echo], "content-type"), "application/grpc");
  EXPECT_EQ(c.events.trailers[*echo], (HeaderList{{"grpc-status", "0"}}));
  grpc::MessageReader reader;
  std::vector<std::string> messages;
  const std::string& data = c.events.data[*echo];
  ASSERT_TRUE(reader
                  .feed({reinterpret_cast<const uint8_t*>(data.data()), data.size()},
                        [&](std::span<const uint8_t> m, bool) {
                          messages.emplace_back(reinterpret_cast<const char*>(m.data()), m.size());
                        })
                  .has_value());
  ASSERT_EQ(messages.size(), 1u);
  pb::EchoResponse resp;
  ASSERT_TRUE(resp.ParseFromString(messages[0]));
  EXPECT_EQ(resp.assertions().fully_qualified_method(), kEcho);
  EXPECT_EQ(resp.assertions().context().pod(), "echo-v1-abc");

  // Trailers-only: the status on the response HEADERS, no DATA.
  EXPECT_EQ(*findHeader(c.events.response_headers[*three], "grpc-status"), "12");
  EXPECT_EQ(*findHeader(c.events.response_headers[*three], "grpc-message"),
            "method EchoThree not implemented");
  EXPECT_FALSE(c.events.data.contains(*three));
}

TEST(EchoServerH2, ServesGrpcEchoToGrpcio) {
  if (std::system("/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot import grpc (Debian python3-grpcio)";
  auto server = startServer();
  ASSERT_TRUE(server);
  uint16_t port = server->addresses()[0].port;
  std::string script =
      std::string(std::getenv("WARREN_SOURCE_DIR") ? std::getenv("WARREN_SOURCE_DIR")
                                                   : WARREN_TEST_SOURCE_DIR) +
      "/tests/lab/grpc_echo_client.py";
  http2::testing::Child client({"/usr/bin/python3", script, std::to_string(port)}, true);
  std::string out = client.readAll(30s);
  ASSERT_EQ(client.wait(10s), 0) << out;
  auto j = nlohmann::json::parse(out);
  for (const char* m : {"Echo", "EchoTwo"}) {
    SCOPED_TRACE(m);
    const auto& r = j[m];
    EXPECT_EQ(r["fully_qualified_method"],
              "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/" + std::string(m));
    EXPECT_EQ(r["authority"], "127.0.0.1:" + std::to_string(port));
    EXPECT_EQ(r["headers"][":authority"][0], "127.0.0.1:" + std::to_string(port));
    std::string lower = m;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    EXPECT_EQ(r["headers"]["x-warren-test"][0], lower);
    EXPECT_FALSE(r["headers"].contains("content-type"));
    EXPECT_EQ(r["context"]["pod"], "echo-v1-abc");
    EXPECT_EQ(r["context"]["namespace"], "gateway-conformance-mesh");
  }
  EXPECT_EQ(j["EchoThree"]["code"], "UNIMPLEMENTED");
  EXPECT_EQ(j["EchoThree"]["details"], "method EchoThree not implemented");
  EXPECT_EQ(j["Unknown"]["code"], "UNIMPLEMENTED");
  EXPECT_EQ(server->requestsServed(), 4u);
}

}  // namespace
}  // namespace warren::echo
