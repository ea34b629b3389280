#include "agent/cni/cni_server.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace warren::cni {

// A request line is a few hundred bytes; anything far larger is not warren-cni.
constexpr size_t kMaxRequest = 64 * 1024;
constexpr int kReadTimeoutMs = 5000;

CniServer::CniServer(std::string path, UniqueFd listener, Handler handler)
    : path_(std::move(path)), listener_(std::move(listener)), handler_(std::move(handler)) {}

Result<std::unique_ptr<CniServer>> CniServer::start(const std::string& socket_path,
                                                    Handler handler) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path))
    return fail(Error::invalid("socket path too long: " + socket_path));
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return fail(WARREN_SYS_ERROR("socket for " + socket_path));
  ::unlink(socket_path.c_str());
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return fail(WARREN_SYS_ERROR("bind " + socket_path));
  // Root only: a request names a netns path for the agent to open (the run dir is 0700 too).
  if (::chmod(socket_path.c_str(), 0600) != 0)
    return fail(WARREN_SYS_ERROR("chmod " + socket_path));
  if (::listen(s.get(), 64) != 0) return fail(WARREN_SYS_ERROR("listen " + socket_path));
  std::unique_ptr<CniServer> server(new CniServer(socket_path, std::move(s), std::move(handler)));
  server->thread_ = std::thread([p = server.get()] { p->loop(); });
  spdlog::info("cni: listening on {}", socket_path);
  return server;
}

CniServer::~CniServer() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

void CniServer::loop() {
  while (!stopping_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn) serve(conn.get());
  }
}

void CniServer::serve(int conn) {
  std::string line;
  char buf[4096];
  while (line.find('\n') == std::string::npos && line.size() < kMaxRequest) {
    pollfd p{conn, POLLIN, 0};
    if (::poll(&p, 1, kReadTimeoutMs) <= 0) return;
    ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  Status handled = ok();
  auto req = parseAgentRequest(line.substr(0, line.find('\n')));
  if (!req) {
    handled = fail(req.error());
  } else {
    spdlog::info("cni: {} {}/{} netns {}", req->command, req->pod_namespace, req->pod_name,
                 req->netns);
    handled = handler_(*req);
    if (!handled)
      spdlog::warn("cni: {} {}/{}: {}", req->command, req->pod_namespace, req->pod_name,
                   handled.error().message());
  }
  std::string out = agentAnswerJson(handled) + "\n";
  (void)::send(conn, out.data(), out.size(), MSG_NOSIGNAL);
}

}  // namespace warren::cni
