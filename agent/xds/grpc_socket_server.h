// A gRPC server on a unix socket (<run-dir>/xds.sock) hosting the agent's services (delta xDS,
// CA). A stale socket file from a previous run is removed before binding; the file is removed
// again on stop.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace warren::agent {

class GrpcSocketServer {
 public:
  GrpcSocketServer() = default;
  ~GrpcSocketServer();
  GrpcSocketServer(const GrpcSocketServer&) = delete;
  GrpcSocketServer& operator=(const GrpcSocketServer&) = delete;

  // Services must outlive the server.
  Status start(const std::string& socket_path, const std::vector<grpc::Service*>& services);
  // Cancels open calls after `grace` and waits for handlers to return.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(500));

  const std::string& path() const { return path_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string path_;
};

}  // namespace warren::agent
