#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>
#include <vector>

#include "common/http/response_writer.h"
#include "common/http1/serializer.h"
#include "common/log.h"

namespace warren::http {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr std::string_view kContinue = http1::Serializer::kContinue;
constexpr int kMaxEvents = 64;
// Sweep for idle connections at least this often.
constexpr int kEpollTimeoutMs = 250;

Result<UniqueFd> bindUnix(const std::string& path, mode_t mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(Error::invalid("cannot listen on " + path + ": a non-socket file is there"));
    ::unlink(path.c_str());  // stale socket from an earlier run
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail(WARREN_SYS_ERROR("socket(AF_UNIX) for " + path));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return fail(Error::invalid("unix socket path too long: " + path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return fail(WARREN_SYS_ERROR("bind " + path));
  if (::chmod(path.c_str(), mode) != 0) return fail(WARREN_SYS_ERROR("chmod " + path));
  return fd;
}

Result<UniqueFd> bindTcp(ListenAddress& address, bool reuse_port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (address.host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(address.port);
    if (inet_pton(AF_INET6, address.host.c_str(), &a6->sin6_addr) != 1)
      return fail(Error::invalid("bad IPv6 address " + address.host));
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(address.port);
    if (inet_pton(AF_INET, address.host.c_str(), &a4->sin_addr) != 1)
      return fail(Error::invalid("bad IPv4 address " + address.host));
    len = sizeof(sockaddr_in);
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail(WARREN_SYS_ERROR("socket for " + address.toString()));
  int one = 1;
  // A restarted component must rebind its admin port while old connections sit in TIME_WAIT.
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
    return fail(WARREN_SYS_ERROR("SO_REUSEPORT on " + address.toString()));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return fail(WARREN_SYS_ERROR("bind " + address.toString()));
  socklen_t got = sizeof(ss);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &got) != 0)
    return fail(WARREN_SYS_ERROR("getsockname " + address.toString()));
  address.port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

struct Connection {
  UniqueFd fd;
  RequestReader reader;
  std::string in;  // read but not yet parsed: the rest of a pipeline waiting for its turn
  std::string out;
  size_t out_offset = 0;
  bool close_after_write = false;
  bool peer_closed = false;
  std::chrono::steady_clock::time_point last_active;

  Connection(UniqueFd f, RequestLimits limits) : fd(std::move(f)), reader(limits) {}
  bool pendingOutput() const { return out_offset < out.size(); }
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, Router router) {
  ListenAddress bound = options.address;
  Result<UniqueFd> listen_fd = bound.kind == ListenAddress::Kind::kUnix
                                   ? bindUnix(bound.path, options.unix_mode)
                                   : bindTcp(bound, options.reuse_port);
  if (!listen_fd) return fail(listen_fd.error().wrap(options.name + " server"));
  if (::listen(listen_fd->get(), 64) != 0)
    return fail(WARREN_SYS_ERROR(options.name + " server: listen " + bound.toString()));
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return fail(WARREN_SYS_ERROR(options.name + " server: epoll_create1"));
  UniqueFd wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) return fail(WARREN_SYS_ERROR(options.name + " server: eventfd"));
  for (int fd : {listen_fd->get(), wake_fd.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      return fail(WARREN_SYS_ERROR(options.name + " server: epoll_ctl"));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(router),
                                                    std::move(*listen_fd), std::move(epoll_fd),
                                                    std::move(wake_fd), std::move(bound)));
  server->thread_ = std::thread([s = server.get()] { s->run(); });
  return server;
}

HttpServer::HttpServer(HttpServerOptions options, Router router, UniqueFd listen_fd,
                       UniqueFd epoll_fd, UniqueFd wake_fd, ListenAddress bound)
    : options_(std::move(options)),
      router_(std::move(router)),
      listen_fd_(std::move(listen_fd)),
      epoll_fd_(std::move(epoll_fd)),
      wake_fd_(std::move(wake_fd)),
      bound_(std::move(bound)) {}

HttpServer::~HttpServer() {
  uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof(one)) < 0) {
    // eventfd writes only fail on overflow, which a single stop cannot cause.
  }
  if (thread_.joinable()) thread_.join();
  if (bound_.kind == ListenAddress::Kind::kUnix) ::unlink(bound_.path.c_str());
}

void HttpServer::run() {
  std::unordered_map<int, std::unique_ptr<Connection>> conns;
  const int ep = epoll_fd_.get();

  auto closeConn = [&](int fd) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    conns.erase(fd);  // UniqueFd closes
  };
  auto watch = [&](Connection& c) {
    epoll_event ev{};
    // While a response is pending we stop reading: a client that pipelines without reading
    // replies cannot make us buffer without bound.
    ev.events = c.pendingOutput() ? EPOLLOUT : (EPOLLIN | EPOLLRDHUP);
    ev.data.fd = c.fd.get();
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd.get(), &ev);
  };
  // Writes what it can; returns false when the connection is finished and was closed.
  auto flush = [&](Connection& c) -> bool {
    while (c.pendingOutput()) {
      ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_offset, c.out.size() - c.out_offset,
                         MSG_NOSIGNAL);
      if (n > 0) {
        c.out_offset += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      closeConn(c.fd.get());
      return false;
    }
    if (!c.pendingOutput()) {
      c.out.clear();
      c.out_offset = 0;
      if (c.close_after_write || c.peer_closed) {
        closeConn(c.fd.get());
        return false;
      }
    }
    watch(c);
    return true;
  };
  // Answers the requests waiting in c.in one at a time: the next is parsed only once the
  // previous answer is fully written, so a client pipelining without reading holds at most one
  // response and one read of input. Returns false when the connection was closed.
  auto serve = [&](Connection& c) -> bool {
    while (!c.pendingOutput() && !c.close_after_write) {
      std::optional<HttpRequest> req;
      size_t used = c.reader.read(c.in, req);
      c.in.erase(0, used);
      if (c.reader.takeContinue()) c.out += kContinue;
      if (req) {
        HttpResponse resp = router_.dispatch(*req);
        requests_served_.fetch_add(1, std::memory_order_relaxed);
        c.out += serializeResponse(resp, req->keep_alive);
        // Anything pipelined after "Connection: close" is dropped.
        if (!req->keep_alive) c.close_after_write = true;
      } else if (c.reader.failed()) {
        const ParseFailure& f = c.reader.failure();
        spdlog::debug("{} server: rejecting request: {} {}", options_.name, f.status, f.reason);
        c.out += serializeResponse(HttpResponse::text(f.status, f.reason + "\n"), false);
        c.close_after_write = true;
      } else if (!c.pendingOutput()) {
        break;  // the rest of a request has not arrived yet
      }
      if (!flush(c)) return false;
    }
    return true;
  };
  auto onReadable = [&](Connection& c) {
    char buf[kReadChunk];
    ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
      c.peer_closed = true;
      if (!c.pendingOutput()) closeConn(c.fd.get());
      return;
    }
    c.last_active = std::chrono::steady_clock::now();
    c.in.append(buf, static_cast<size_t>(n));
    serve(c);
  };

  epoll_event events[kMaxEvents];
  for (;;) {
    int n = ::epoll_wait(ep, events, kMaxEvents, kEpollTimeoutMs);
    if (n < 0 && errno != EINTR) {
      spdlog::error("{} server: epoll_wait: {}", options_.name, std::strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_.get()) return;  // conns close as the map is destroyed
      if (fd == listen_fd_.get()) {
        for (int accepted = 0; accepted < kMaxEvents; ++accepted) {
          UniqueFd cfd(::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
          if (!cfd) break;
          if (conns.size() >= options_.max_connections) {
            spdlog::warn("{} server: {} connections open, refusing another", options_.name,
                         conns.size());
            continue;  // closed by UniqueFd
          }
          auto c = std::make_unique<Connection>(std::move(cfd), options_.limits);
          c->last_active = std::chrono::steady_clock::now();
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLRDHUP;
          ev.data.fd = c->fd.get();
          if (::epoll_ctl(ep, EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) continue;
          int key = c->fd.get();
          conns.emplace(key, std::move(c));
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Connection& c = *it->second;
      if (events[i].events & EPOLLOUT) {
        c.last_active = std::chrono::steady_clock::now();
        if (flush(c)) serve(c);  // the next pipelined request, if one is waiting
      } else if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        onReadable(c);
      }
    }
    auto now = std::chrono::steady_clock::now();
    std::vector<int> idle;
    for (auto& [fd, c] : conns)
      if (now - c->last_active > options_.idle_timeout) idle.push_back(fd);
    for (int fd : idle) closeConn(fd);
  }
}

}  // namespace warren::http
