// Interop with an independent TLS implementation: the openssl command-line tool (s_server,
// s_client) on 127.0.0.1 with an ephemeral port, our engine driven over a real TCP socket.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <regex>

#include "common/identity/pem.h"
#include "common/identity/private_key.h"
#include "common/unique_fd.h"
#include "tests/common/tls/tls_fixture.h"

namespace warren::tls::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(10);

// A child process with stdin/stdout pipes (stderr joins stdout); killed and reaped on scope
// exit, by its PID only.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(out[1], 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    fcntl(stdout_, F_SETFL, O_NONBLOCK);
  }
  ~Child() {
    if (stdin_ >= 0) close(stdin_);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(stdout_);
  }
  void writeStdin(std::string_view s) {
    ASSERT_EQ(::write(stdin_, s.data(), s.size()), ssize_t(s.size()));
  }
  void closeStdin() {
    close(stdin_);
    stdin_ = -1;
  }
  // Reads stdout until `pred(output)` holds or the deadline passes.
  bool readUntil(const std::function<bool(const std::string&)>& pred,
                 Clock::duration limit = kTimeout) {
    auto deadline = Clock::now() + limit;
    while (!pred(output_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(stdout_, buf, sizeof(buf));
      if (n > 0) output_.append(buf, static_cast<size_t>(n));
      if (n == 0) return pred(output_);
    }
    return true;
  }
  // Waits for exit (bounded) and collects the rest of stdout.
  int wait(Clock::duration limit = kTimeout) {
    readUntil([](const std::string&) { return false; }, limit);
    auto deadline = Clock::now() + limit;
    int status = 0;
    while (Clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      usleep(10000);
    }
    return -1;
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  bool reaped_ = false;
  std::string output_;
};

// Moves bytes between `fd` and `engine` until `done()` holds, the peer closes, or an error.
bool driveOverSocket(int fd, TlsEngine& engine, std::string& received,
                     const std::function<bool()>& done) {
  auto deadline = Clock::now() + kTimeout;
  std::vector<uint8_t> in(64 * 1024), plain(64 * 1024);
  while (Clock::now() < deadline) {
    while (!engine.pendingOutput().empty()) {
      auto out = engine.pendingOutput();
      ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      engine.consumeOutput(static_cast<size_t>(n));
    }
    if (engine.failed()) return false;
    if (done()) return true;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, in.data(), in.size(), 0);
    if (n <= 0) return done();
    std::span<const uint8_t> rest(in.data(), static_cast<size_t>(n));
    while (!rest.empty() || engine.hasBufferedPlaintext()) {
      auto r = engine.feed(rest, plain);
      if (!r) break;  // failed(): the alert is sent on the next turn
      received.append(reinterpret_cast<char*>(plain.data()), r->plaintext);
      rest = rest.subspan(r->consumed);
      if (r->consumed == 0 && r->plaintext == 0) break;
    }
  }
  return false;
}

class TlsInteropTest : public TlsFixture {
 protected:
  void SetUp() override {
    if (std::system("openssl version >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "the openssl command-line tool is not installed";
    }
    char tmpl[] = "/tmp/warren-tls-interop-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Writes key, chain and CA files for `cert`; returns the path prefix.
  std::string writeCredentials(const identity::WorkloadCertificate& cert, const std::string& name) {
    std::string prefix = dir_ + "/" + name;
    identity::testing::writeFile(prefix + ".key", *identity::privateKeyToPem(cert.key()));
    identity::testing::writeFile(prefix + ".crt", *cert.chainPem());
    identity::testing::writeFile(dir_ + "/ca.crt", ca_.rootPem());
    return prefix;
  }
  void ourClientAgainstOpensslServer(bool own_records);
  static UniqueFd connectTo(uint16_t port) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return UniqueFd();
    return fd;
  }
  static std::optional<uint16_t> acceptPort(Child& server) {
    std::smatch m;
    std::regex re("ACCEPT 127\\.0\\.0\\.1:([0-9]+)");
    bool ok = server.readUntil([&](const std::string& s) { return std::regex_search(s, m, re); });
    if (!ok) return std::nullopt;
    return static_cast<uint16_t>(std::stoi(m[1].str()));
  }

  std::string dir_;
};

// `own_records`: after the handshake our engine seals and opens the records itself
// (useOwnRecordLayer), and so meets s_server's NewSessionTickets, its echo and its close_notify.
void TlsInteropTest::ourClientAgainstOpensslServer(bool own_records) {
  auto scert = ca_.issue(kServerUri);
  auto ccert = ca_.issue(kClientUri);
  std::string srv = writeCredentials(scert, "server");
  Child server({"openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-cert",
                srv + ".crt", "-key", srv + ".key", "-CAfile", dir_ + "/ca.crt", "-Verify", "3",
                "-verify_return_error", "-tls1_3", "-alpn", "h2", "-rev"});
  auto port = acceptPort(server);
  ASSERT_TRUE(port) << "s_server did not report its port: " << server.output();

  auto cctx = clientContext(ccert);
  auto client = clientEngine(cctx);
  UniqueFd fd = connectTo(*port);
  ASSERT_TRUE(fd.valid());
  std::string received;
  ASSERT_TRUE(driveOverSocket(fd.get(), client, received, [&] { return client.handshakeDone(); }))
      << (client.failed() ? client.error()->message() : "timeout");
  EXPECT_EQ(client.peerIdentity()->uri(), kServerUri);
  EXPECT_EQ(client.alpn(), "h2");
  if (own_records) {
    ASSERT_TRUE(driveOverSocket(fd.get(), client, received, [&] {
      return client.ownRecordLayer() || client.useOwnRecordLayer().has_value();
    })) << (client.failed() ? client.error()->message() : "timeout");
  }

  ASSERT_TRUE(client.write(bytes("hello warren\n")));
  ASSERT_TRUE(driveOverSocket(fd.get(), client, received,
                              [&] { return received.find('\n') != std::string::npos; }))
      << (client.failed() ? client.error()->message() : "timeout") << " got: " << received;
  EXPECT_EQ(received, "nerraw olleh\n");
  ASSERT_TRUE(client.shutdown());
  driveOverSocket(fd.get(), client, received, [&] { return client.peerClosed(); });
  EXPECT_FALSE(client.failed()) << client.error()->message();
  EXPECT_EQ(client.ownRecordLayer(), own_records);
  fd.reset();
  server.wait();
  EXPECT_NE(server.output().find("ALPN protocols selected: h2"), std::string::npos)
      << server.output();
  EXPECT_NE(server.output().find("Protocol version: TLSv1.3"), std::string::npos);
}

TEST_F(TlsInteropTest, OurClientAgainstOpensslServer) { ourClientAgainstOpensslServer(false); }

TEST_F(TlsInteropTest, OurClientOnItsOwnRecordLayerAgainstOpensslServer) {
  ourClientAgainstOpensslServer(true);
}

TEST_F(TlsInteropTest, OpensslClientAgainstOurServer) {
  auto scert = ca_.issue(kServerUri);
  auto ccert = ca_.issue(kClientUri);
  std::string cli = writeCredentials(ccert, "client");

  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string target = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  Child client({"openssl", "s_client", "-connect", target, "-cert", cli + ".crt", "-key",
                cli + ".key", "-CAfile", dir_ + "/ca.crt", "-verify_return_error", "-tls1_3",
                "-alpn", "h2", "-noservername", "-ign_eof"});
  pollfd p{listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "s_client did not connect: " << client.output();
  UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());

  auto sctx = serverContext(scert);
  auto server = serverEngine(sctx);
  std::string received;
  ASSERT_TRUE(driveOverSocket(conn.get(), server, received, [&] { return server.handshakeDone(); }))
      << (server.failed() ? server.error()->message() : "timeout") << "\n"
      << client.output();
  EXPECT_EQ(server.peerIdentity()->uri(), kClientUri);
  EXPECT_EQ(server.alpn(), "h2");

  client.writeStdin("ping from openssl\n");
  ASSERT_TRUE(driveOverSocket(conn.get(), server, received,
                              [&] { return received.find('\n') != std::string::npos; }));
  EXPECT_EQ(received, "ping from openssl\n");
  ASSERT_TRUE(server.write(bytes("pong from warren\n")));
  ASSERT_TRUE(server.shutdown());
  driveOverSocket(conn.get(), server, received, [&] { return server.pendingOutput().empty(); });
  EXPECT_TRUE(client.readUntil([](const std::string& s) {
    return s.find("pong from warren") != std::string::npos;
  })) << client.output();
  client.closeStdin();
  conn.reset();
  client.wait();
  EXPECT_NE(client.output().find("ALPN protocol: h2"), std::string::npos) << client.output();
  EXPECT_NE(client.output().find("Verify return code: 0 (ok)"), std::string::npos);
  EXPECT_NE(client.output().find("TLSv1.3"), std::string::npos);
}

TEST_F(TlsInteropTest, OpensslServerWithoutAlpnIsRefused) {
  auto scert = ca_.issue(kServerUri);
  auto ccert = ca_.issue(kClientUri);
  std::string srv = writeCredentials(scert, "server");
  Child server({"openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-cert",
                srv + ".crt", "-key", srv + ".key", "-CAfile", dir_ + "/ca.crt", "-Verify", "3",
                "-tls1_3"});
  auto port = acceptPort(server);
  ASSERT_TRUE(port) << server.output();
  auto cctx = clientContext(ccert);
  auto client = clientEngine(cctx);
  UniqueFd fd = connectTo(*port);
  ASSERT_TRUE(fd.valid());
  std::string received;
  EXPECT_FALSE(driveOverSocket(fd.get(), client, received, [&] { return client.handshakeDone(); }));
  ASSERT_TRUE(client.failed());
  EXPECT_NE(client.error()->message().find("ALPN"), std::string::npos) << client.error()->message();
}

TEST_F(TlsInteropTest, OpensslClientWithoutCertificateIsRefused) {
  auto scert = ca_.issue(kServerUri);
  writeCredentials(scert, "server");
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  Child client({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(ntohs(a.sin_port)),
                "-CAfile", dir_ + "/ca.crt", "-tls1_3", "-alpn", "h2", "-noservername"});
  pollfd p{listener.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);
  UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  auto sctx = serverContext(scert);
  auto server = serverEngine(sctx);
  std::string received;
  EXPECT_FALSE(
      driveOverSocket(conn.get(), server, received, [&] { return server.handshakeDone(); }));
  ASSERT_TRUE(server.failed());
  EXPECT_NE(server.error()->message().find("peer did not return a certificate"), std::string::npos)
      << server.error()->message();
  client.closeStdin();
  conn.reset();
  client.wait();
  EXPECT_NE(client.output().find("alert"), std::string::npos) << client.output();
}

}  // namespace
}  // namespace warren::tls::testing
