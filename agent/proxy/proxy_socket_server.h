// The node-local socket for proxies: <run-dir>/proxy/xds.sock, in a directory of its own that
// is mounted into waypoint pods alone (never the run dir: no ZDS, CNI or admin socket there).
// gRPC on it serves delta xDS and the CA like xds.sock, but every call is bound to the pod
// that made the connection.
//
// The server accepts connections itself, so that each one keeps its kernel-taken peer
// credentials, and hands the connected fd to gRPC (grpc::AddInsecureChannelFromFd). gRPC then
// names the call's peer "fd:<n>", and `callerOf` reads SO_PEERCRED on that fd while the call
// is open: pid -> /proc/<pid>/cgroup -> the pod (caller_identity.h). Nothing the caller sends
// can change who it is.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/proxy/caller_identity.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::agent {

class ProxySocketServer {
 public:
  // Creates the socket's directory (0755) when missing, replaces a stale socket, binds it
  // (0666: reaching it is what the mount grants) and serves `services` (which must outlive the
  // server) on connections accepted from it.
  static Result<std::unique_ptr<ProxySocketServer>> start(
      const std::string& socket_path, const std::vector<grpc::Service*>& services);
  ~ProxySocketServer();
  ProxySocketServer(const ProxySocketServer&) = delete;
  ProxySocketServer& operator=(const ProxySocketServer&) = delete;

  const std::string& path() const { return path_; }

  // The credentials of the connection a call on this server arrived on.
  static Result<PeerCredentials> callerOf(const grpc::ServerContext& context);
  // callerOf -> cgroupOfPid -> identifyWaypoint: the waypoint pod a call comes from.
  static Result<WaypointCaller> waypointOf(const grpc::ServerContext& context,
                                           const ClusterSnapshot& snapshot, const std::string& node,
                                           const std::string& trust_domain);

 private:
  ProxySocketServer(std::string path, UniqueFd listener, std::unique_ptr<grpc::Server> server);
  void acceptLoop();

  std::string path_;
  UniqueFd listener_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
};

}  // namespace warren::agent
