// Test fixture, not part of the product: a minimal HBONE server built from the production
// pieces (common/tls TlsEngine, common/http2 Session in server role, and the one inbound
// decision ztunnel's 15008 runs, decideInbound, over a state holding one local pod), so
// tests/tools/h2_abuse.py can be validated without a lab.
//
//   hbone-test-server --local-ip IP --cert-dir DIR [--port P] [--max-seconds N]
//
// Mints a throwaway mesh CA and writes DIR/ca.crt, DIR/client.crt, DIR/client.key (a client
// identity spiffe://cluster.local/ns/test/sa/abuse-client) and DIR/server.id (its own SPIFFE
// ID), listens on 127.0.0.1:P (0 = any free port), prints "port N" on stdout, then serves:
// every CONNECT is decided as the pod at `IP` (ns test, sa hbone-server) and answered 400 /
// 401 / 503, or 200 with the stream's data echoed back (no upstream is dialled). One thread, one
// poll loop; it stops reading a connection whose unsent output passed 256 KiB (backpressure, as a
// real worker does). Exits after N seconds (default 600) or on SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http2/session.h"
#include "common/identity/private_key.h"
#include "common/tls/tls_engine.h"
#include "common/unique_fd.h"
#include "mesh/routing/inbound_decision.h"
#include "tests/common/identity/test_ca.h"

namespace {

using namespace warren;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxConnections = 64;
constexpr size_t kOutputHighWater = 256 << 10;  // stop reading above this much unsent output
constexpr const char* kServerId = "spiffe://cluster.local/ns/test/sa/hbone-server";
constexpr const char* kClientId = "spiffe://cluster.local/ns/test/sa/abuse-client";

volatile sig_atomic_t g_stop = 0;

// The state the decision runs against: the one pod this server plays.
struct LocalPod {
  std::shared_ptr<const mesh::StateSnapshot> snapshot;
  const mesh::Workload* workload = nullptr;
  net::SocketAddress hbone;  // IP:15008

  static std::optional<LocalPod> make(const net::IpAddress& ip) {
    mesh::Workload w;
    w.uid = "Kubernetes//Pod/test/hbone-server";
    w.name = "hbone-server";
    w.namespace_ = "test";
    w.service_account = "hbone-server";
    w.addresses = {ip};
    w.tunnel_protocol = mesh::TunnelProtocol::kHbone;
    mesh::StateUpdate u;
    u.workloads = {w};
    auto r = mesh::StateSnapshot::empty()->apply(u);
    if (!r.rejected.empty()) return std::nullopt;
    LocalPod p;
    p.snapshot = r.snapshot;
    p.workload = p.snapshot->workloadByUid(w.uid);
    p.hbone = net::SocketAddress{ip, 15008};
    return p;
  }
};

class Connection : public http2::SessionCallbacks {
 public:
  Connection(UniqueFd fd, tls::TlsEngine tls, const LocalPod& pod, net::SocketAddress peer)
      : fd_(std::move(fd)), tls_(std::move(tls)), pod_(pod), peer_(peer) {}

  Status start(Clock::time_point now) {
    http2::SessionConfig config;
    auto s = http2::Session::create(http2::Role::kServer, config, *this, now);
    if (!s) return fail(s.error());
    h2_ = std::move(*s);
    return ok();
  }

  int fd() const { return fd_.get(); }
  bool done() const { return done_; }
  bool wantsRead() const { return !h2_dead_ && tls_.pendingOutput().size() < kOutputHighWater; }
  bool wantsWrite() const { return !tls_.pendingOutput().empty(); }

  void onReadable() {
    uint8_t buf[64 << 10];
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      done_ = true;
      return;
    }
    if (n < 0) return;
    std::span<const uint8_t> rest(buf, static_cast<size_t>(n));
    static uint8_t plain[64 << 10];
    while (!rest.empty() || tls_.hasBufferedPlaintext()) {
      auto r = tls_.feed(rest, plain);
      if (!r) {
        h2_dead_ = true;  // TLS failed: flush the alert, then close
        break;
      }
      rest = rest.subspan(r->consumed);
      if (r->plaintext > 0 && !h2_dead_) {
        if (!h2_->dispatch({plain, r->plaintext})) h2_dead_ = true;
      }
      if (r->peer_closed) h2_dead_ = true;
      if (r->consumed == 0 && r->plaintext == 0) break;
    }
    pump();
  }

  void onWritable() { pump(); }

  void onTimer(Clock::time_point now) {
    if (!h2_dead_ && !h2_->onTimer(now)) h2_dead_ = true;
    pump();
  }

  // Moves HTTP/2 output into TLS and TLS output onto the socket, as far as each will take.
  void pump() {
    if (tls_.handshakeDone()) {
      for (int i = 0; i < 64; ++i) {
        auto out = h2_->pendingOutput();
        if (out.empty() || tls_.writable() == 0) break;
        auto n = tls_.write(out.first(std::min(out.size(), tls_.writable())));
        if (!n) {
          h2_dead_ = true;
          break;
        }
        h2_->drainOutput(*n);
      }
    }
    while (!tls_.pendingOutput().empty()) {
      auto out = tls_.pendingOutput();
      ssize_t n = ::send(fd_.get(), out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) done_ = true;
        break;
      }
      tls_.consumeOutput(static_cast<size_t>(n));
    }
    bool h2_finished = h2_dead_ ? !h2_->wantsWrite() || tls_.failed() : h2_->isClosed();
    if (h2_finished && tls_.pendingOutput().empty()) done_ = true;
  }

  // --- http2::SessionCallbacks
  void onRequest(http2::StreamId id, const http2::HeaderList& headers) override {
    mesh::InboundConnection conn{pod_.hbone, peer_, tls_.peerIdentity()};
    auto d = mesh::decideInbound(*pod_.snapshot, pod_.workload, conn, headers);
    int status = d ? 200 : d.error().status();
    std::fprintf(stderr, "hbone-test-server: stream %d: %d %s\n", static_cast<int>(id), status,
                 d ? d->upstream.toString().c_str() : d.error().detail.c_str());
    (void)h2_->respond(id, status);
  }
  void onResponse(http2::StreamId, int, const http2::HeaderList&) override {}
  void onData(http2::StreamId id, std::span<const uint8_t> data) override {
    (void)h2_->writeData(id, data);  // echo what fits; a test fixture may drop the rest
    h2_->consume(id, data.size());
  }
  void onEndOfStream(http2::StreamId id) override { (void)h2_->closeWrite(id); }
  void onStreamClose(http2::StreamId, uint32_t) override {}
  void onStreamWritable(http2::StreamId) override {}
  void onGoAway(uint32_t, uint32_t) override {}

 private:
  UniqueFd fd_;
  tls::TlsEngine tls_;
  const LocalPod& pod_;
  net::SocketAddress peer_;
  std::unique_ptr<http2::Session> h2_;
  bool h2_dead_ = false;  // no more input: flush what is queued, then close
  bool done_ = false;
};

int usage() {
  std::fprintf(stderr,
               "usage: hbone-test-server --local-ip IP --cert-dir DIR [--port P] "
               "[--max-seconds N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string local_ip_text, cert_dir;
  int port = 0;
  int max_seconds = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--local-ip") local_ip_text = argv[i + 1];
    else if (flag == "--cert-dir") cert_dir = argv[i + 1];
    else if (flag == "--port") port = std::atoi(argv[i + 1]);
    else if (flag == "--max-seconds") max_seconds = std::atoi(argv[i + 1]);
    else return usage();
  }
  if (local_ip_text.empty() || cert_dir.empty() || argc % 2 == 0) return usage();
  auto local_ip = net::IpAddress::parse(local_ip_text);
  if (!local_ip) {
    std::fprintf(stderr, "hbone-test-server: --local-ip: %s\n", local_ip.error().message().c_str());
    return 2;
  }
  auto pod = LocalPod::make(*local_ip);
  if (!pod) {
    std::fprintf(stderr, "hbone-test-server: cannot build the local pod's state\n");
    return 1;
  }
  ::signal(SIGTERM, [](int) { g_stop = 1; });
  ::signal(SIGPIPE, SIG_IGN);

  auto ca = identity::testing::TestCa::root("hbone test root");
  auto server_cert = ca.issue(kServerId);
  auto client_cert = ca.issue(kClientId);
  auto client_key = identity::privateKeyToPem(client_cert.key());
  auto client_chain = client_cert.chainPem();
  if (!client_key || !client_chain) {
    std::fprintf(stderr, "hbone-test-server: cannot encode the client certificate\n");
    return 1;
  }
  identity::testing::writeFile(cert_dir + "/ca.crt", ca.rootPem());
  identity::testing::writeFile(cert_dir + "/client.crt", *client_chain);
  identity::testing::writeFile(cert_dir + "/client.key", *client_key);
  identity::testing::writeFile(cert_dir + "/server.id", std::string(kServerId) + "\n");
  auto tls_ctx = tls::TlsContext::server(server_cert);
  if (!tls_ctx) {
    std::fprintf(stderr, "hbone-test-server: %s\n", tls_ctx.error().message().c_str());
    return 1;
  }

  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 64) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("hbone-test-server: listen");
    return 1;
  }
  std::printf("port %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  std::list<Connection> conns;
  auto deadline = Clock::now() + std::chrono::seconds(max_seconds);
  while (!g_stop && Clock::now() < deadline) {
    std::vector<pollfd> fds{{listener.get(), POLLIN, 0}};
    for (auto& c : conns) {
      short ev = (c.wantsRead() ? POLLIN : 0) | (c.wantsWrite() ? POLLOUT : 0);
      fds.push_back({c.fd(), ev, 0});
    }
    if (::poll(fds.data(), fds.size(), 100) < 0 && errno != EINTR) break;
    auto now = Clock::now();
    size_t i = 1;
    for (auto& c : conns) {
      short re = fds[i++].revents;
      if (re & (POLLIN | POLLHUP | POLLERR)) c.onReadable();
      if (re & POLLOUT) c.onWritable();
      c.onTimer(now);
    }
    conns.remove_if([](const Connection& c) { return c.done(); });
    if ((fds[0].revents & POLLIN) && conns.size() < kMaxConnections) {
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      int fd = ::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        auto engine = tls::TlsEngine::server(*tls_ctx);
        auto peer_addr =
            net::SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&peer), peer_len);
        if (engine && peer_addr) {
          auto& c = conns.emplace_back(UniqueFd(fd), std::move(*engine), *pod, *peer_addr);
          if (!c.start(now)) conns.pop_back();
        } else {
          ::close(fd);
        }
      }
    }
  }
  return 0;
}
