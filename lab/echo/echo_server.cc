#include "lab/echo/echo_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/net/socket_factory.h"
#include "lab/echo/http1_echo_session.h"

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
  for (const auto& a : server->addresses_) spdlog::info("listening on {} (http)", a.toString());
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
  Http1EchoSession session(options_.context, peer);
  std::string buf(64 * 1024, '\0');
  std::string_view input;  // bytes to feed next (empty: what the session buffered)
  bool need_read = true;
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
  ::shutdown(c.fd.get(), SHUT_WR);
  c.done = true;
}

}  // namespace warren::echo
