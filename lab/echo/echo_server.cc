#include "lab/echo/echo_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/net/socket_factory.h"
#include "common/sniff/protocol_sniffer.h"
#include "lab/echo/http1_echo_session.h"
#include "lab/echo/http2_echo_session.h"

namespace warren::echo {
namespace {

bool sendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<EchoServer>> EchoServer::start(EchoServerOptions options) {
  if (options.listen.empty()) return fail(Error::invalid("echo: no port to listen on"));
  std::unique_ptr<EchoServer> server(new EchoServer(std::move(options)));
  for (const auto& addr : server->options_.listen) {
    net::SocketOptions so;
    so.keepalive = false;
    auto fd = net::SocketFactory::listenTcp(addr, so);
    if (!fd) return fail(fd.error().wrap("echo: listen on " + addr.toString()));
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
      return fail(WARREN_SYS_ERROR("echo: getsockname"));
    auto bound = net::SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!bound) return fail(bound.error());
    server->addresses_.push_back(*bound);
    server->listeners_.push_back(std::move(*fd));
  }
  server->wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!server->wake_) return fail(WARREN_SYS_ERROR("echo: eventfd"));
  for (const auto& a : server->addresses_)
    spdlog::info("listening on {} (http, h2c, grpc)", a.toString());
  server->acceptor_ = std::thread([s = server.get()] { s->acceptLoop(); });
  return server;
}

EchoServer::~EchoServer() {
  stopping_ = true;
  if (wake_) {
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Connection> all;
  {
    std::lock_guard lock(mutex_);
    // Wakes threads blocked in recv/send; the fds stay open until the threads are joined.
    for (auto& c : connections_) ::shutdown(c.fd.get(), SHUT_RDWR);
    all.splice(all.end(), connections_);
  }
  for (auto& c : all) c.thread.join();
}

bool EchoServer::pause(std::chrono::milliseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  while (!stopping_ && std::chrono::steady_clock::now() < end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(50)));
  }
  return !stopping_;
}

void EchoServer::reapFinished() {
  std::list<Connection> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if (it->done) finished.splice(finished.end(), connections_, it);
      it = next;
    }
  }
  for (auto& c : finished) c.thread.join();
}

void EchoServer::acceptLoop() {
  std::vector<pollfd> fds;
  for (const auto& l : listeners_) fds.push_back({l.get(), POLLIN, 0});
  fds.push_back({wake_.get(), POLLIN, 0});
  while (!stopping_) {
    int n = ::poll(fds.data(), fds.size(), 1000);
    reapFinished();
    if (n < 0 && errno != EINTR) {
      spdlog::error("echo: poll: {}", std::strerror(errno));
      return;
    }
    for (size_t i = 0; n > 0 && i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      // Blocking accepted sockets: each connection has its own thread.
      UniqueFd fd(::accept4(fds[i].fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC));
      if (!fd) continue;  // EAGAIN (another poll round), ECONNABORTED, EMFILE: retried later
      auto peer = net::SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
      std::string peer_text = peer ? peer->toString() : "?";
      std::lock_guard lock(mutex_);
      if (connections_.size() >= options_.max_connections) {
        spdlog::warn("echo: {} connections open: closing the one from {}", connections_.size(),
                     peer_text);
        continue;
      }
      timeval tv{};
      tv.tv_sec = options_.idle_timeout.count() / 1000;
      tv.tv_usec = (options_.idle_timeout.count() % 1000) * 1000;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      Connection& c = connections_.emplace_back();
      c.fd = std::move(fd);
      c.thread = std::thread([this, &c, peer_text] { serve(c, peer_text); });
    }
  }
}

void EchoServer::serve(Connection& c, std::string peer) {
  // h2c (prior knowledge) or HTTP/1.x, told apart by the first bytes; anything else goes to the
  // HTTP/1.1 session, which refuses it with a 400 naming the rule.
  std::string first;
  std::string buf(64 * 1024, '\0');
  sniff::SniffedProtocol protocol = sniff::SniffedProtocol::kNeedMoreBytes;
  while (protocol == sniff::SniffedProtocol::kNeedMoreBytes) {
    ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // closed (or idle) before saying anything that decides
    first.append(buf.data(), static_cast<size_t>(n));
    protocol = sniff::sniffProtocol({reinterpret_cast<const uint8_t*>(first.data()), first.size()});
  }
  if (protocol == sniff::SniffedProtocol::kHttp2) {
    serveHttp2(c, peer, first);
  } else if (!first.empty()) {
    serveHttp1(c, peer, first);
  }
  ::shutdown(c.fd.get(), SHUT_WR);
  c.done = true;
}

void EchoServer::serveHttp2(Connection& c, const std::string& peer, std::string_view first) {
  auto created = Http2EchoSession::create(options_.context, peer);
  if (!created) {
    spdlog::error("echo: h2 session: {}", created.error().message());
    return;
  }
  Http2EchoSession& session = **created;
  std::string buf(64 * 1024, '\0');
  std::string_view input = first;
  for (;;) {
    Status fed = session.feed(input);
    session.runDue(Http2EchoSession::Clock::now());
    for (const auto& a : session.takeAnswered()) {
      requests_++;  // counted before the client can see the answer
      if (a.grpc_status >= 0) {
        spdlog::info("HTTP/2.0 gRPC {} authority={} from {} -> grpc-status {}", a.path, a.authority,
                     peer, a.grpc_status);
      } else {
        spdlog::info("HTTP/2.0 {} {} host={} from {} -> {} ({} body bytes)", a.method, a.path,
                     a.authority, peer, a.status, a.body_bytes);
      }
    }
    std::string_view out = session.output();
    while (!out.empty()) {
      if (!sendAll(c.fd.get(), out)) return;
      session.written(out.size());
      out = session.output();
    }
    if (!fed) {
      spdlog::info("echo: h2 connection from {}: {}", peer, fed.error().message());
      return;
    }
    if (session.finished() || stopping_) return;
    // Wait for bytes, or for the next delayed answer; silence beyond the idle timeout closes.
    auto wait = options_.idle_timeout;
    if (auto due = session.nextDue()) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                *due - Http2EchoSession::Clock::now()) +
                                std::chrono::milliseconds(1));
      wait = std::max(wait, std::chrono::milliseconds(0));
    }
    pollfd p{c.fd.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (ready < 0 && errno == EINTR) continue;
    input = {};
    if (ready == 0) {
      if (!session.nextDue()) return;  // idle
      continue;
    }
    ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    input = std::string_view(buf.data(), static_cast<size_t>(n));
  }
}

void EchoServer::serveHttp1(Connection& c, const std::string& peer, std::string_view first) {
  Http1EchoSession session(options_.context, peer);
  std::string buf(64 * 1024, '\0');
  std::string_view input = first;  // bytes to feed next (empty: what the session buffered)
  bool need_read = false;
  for (;;) {
    if (need_read) {
      ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // EOF, an error, or the idle timeout: a request cut short is answered before closing.
        SessionOutput out = session.finish();
        if (!out.bytes.empty()) (void)sendAll(c.fd.get(), out.bytes);
        break;
      }
      input = std::string_view(buf.data(), static_cast<size_t>(n));
    }
    SessionOutput out = session.feed(input);
    input = {};
    if (!out.bytes.empty() && !sendAll(c.fd.get(), out.bytes)) break;
    if (out.reply) {
      if (out.reply->delay.count() > 0 && !pause(out.reply->delay)) break;
      requests_++;  // counted before the client can see the answer
      if (!sendAll(c.fd.get(), out.reply->bytes)) break;
      const auto& r = out.reply->request;
      spdlog::info("{} {} {} host={} from {} -> {} ({} body bytes)", r.proto, r.method, r.target,
                   r.host, peer, out.reply->status, r.body_bytes);
    }
    if (out.close) break;
    // After an answer, pipelined bytes already received come first.
    need_read = !(out.reply && session.hasBuffered());
  }
}

}  // namespace warren::echo
