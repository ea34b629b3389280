#include "agent/proxy/proxy_socket_server.h"

#include <grpcpp/server_posix.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>
#include <filesystem>

namespace warren::agent {

ProxySocketServer::ProxySocketServer(std::string path, UniqueFd listener,
                                     std::unique_ptr<grpc::Server> server)
    : path_(std::move(path)), listener_(std::move(listener)), server_(std::move(server)) {}

Result<std::unique_ptr<ProxySocketServer>> ProxySocketServer::start(
    const std::string& socket_path, const std::vector<grpc::Service*>& services) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path))
    return fail(Error::invalid("socket path too long: " + socket_path));
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const std::string dir = std::filesystem::path(socket_path).parent_path().string();
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(WARREN_SYS_ERROR("create " + dir));
  struct stat st {};
  if (::lstat(socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(
          Error::invalid(socket_path + " exists and is not a socket; refusing to replace it"));
    if (::unlink(socket_path.c_str()) != 0)
      return fail(WARREN_SYS_ERROR("remove stale " + socket_path));
  }
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return fail(WARREN_SYS_ERROR("socket for " + socket_path));
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return fail(WARREN_SYS_ERROR("bind " + socket_path));
  if (::chmod(socket_path.c_str(), 0666) != 0)
    return fail(WARREN_SYS_ERROR("chmod " + socket_path));
  if (::listen(s.get(), 64) != 0) return fail(WARREN_SYS_ERROR("listen " + socket_path));
  grpc::ServerBuilder builder;  // no listening port: connections come from acceptLoop
  for (grpc::Service* svc : services) builder.RegisterService(svc);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return fail(Error(ErrorCode::kUnavailable, "gRPC server for " + socket_path));
  std::unique_ptr<ProxySocketServer> self(
      new ProxySocketServer(socket_path, std::move(s), std::move(server)));
  self->acceptor_ = std::thread([p = self.get()] { p->acceptLoop(); });
  spdlog::info("proxy socket (delta xDS, CA; callers identified by peer credentials) on {}",
               socket_path);
  return self;
}

ProxySocketServer::~ProxySocketServer() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    server_->Wait();
  }
  ::unlink(path_.c_str());
}

void ProxySocketServer::acceptLoop() {
  while (!stopping_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    // gRPC takes ownership of the fd; its event engine expects it non-blocking.
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }
}

Result<PeerCredentials> ProxySocketServer::callerOf(const grpc::ServerContext& context) {
  const std::string peer = context.peer();
  int fd = -1;
  if (peer.starts_with("fd:")) {
    auto [end, ec] = std::from_chars(peer.data() + 3, peer.data() + peer.size(), fd);
    if (ec != std::errc() || end != peer.data() + peer.size()) fd = -1;
  }
  if (fd < 0)
    return fail(Error(ErrorCode::kPermissionDenied,
                      "call from '" + peer + "' did not come through the proxy socket"));
  return peerCredentials(fd);
}

Result<WaypointCaller> ProxySocketServer::waypointOf(const grpc::ServerContext& context,
                                                     const ClusterSnapshot& snapshot,
                                                     const std::string& node,
                                                     const std::string& trust_domain) {
  auto cred = callerOf(context);
  if (!cred) return fail(cred.error());
  auto cgroup = cgroupOfPid(cred->pid);
  if (!cgroup) return fail(cgroup.error().wrap("pid " + std::to_string(cred->pid)));
  auto caller = identifyWaypoint(snapshot, node, trust_domain, *cgroup);
  if (!caller) return fail(caller.error().wrap("pid " + std::to_string(cred->pid)));
  return caller;
}

}  // namespace warren::agent
