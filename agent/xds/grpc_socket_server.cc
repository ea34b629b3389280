#include "agent/xds/grpc_socket_server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace warren::agent {

GrpcSocketServer::~GrpcSocketServer() { stop(); }

Status GrpcSocketServer::start(const std::string& socket_path,
                               const std::vector<grpc::Service*>& services) {
  struct stat st {};
  if (::lstat(socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail(
          Error::invalid(socket_path + " exists and is not a socket; refusing to replace it"));
    if (::unlink(socket_path.c_str()) != 0)
      return fail(WARREN_SYS_ERROR("remove stale " + socket_path));
  }
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials(), &bound);
  for (grpc::Service* s : services) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
  if (!server_ || bound == 0) {
    server_.reset();
    return fail(
        Error(ErrorCode::kUnavailable, "gRPC server could not listen on unix:" + socket_path));
  }
  path_ = socket_path;
  // Root only (the run dir is 0700 too): the CA signs for any pod on the node it is asked for.
  if (::chmod(socket_path.c_str(), 0600) != 0) {
    Error e = WARREN_SYS_ERROR("chmod " + socket_path);
    stop();
    return fail(std::move(e));
  }
  spdlog::info("gRPC (delta xDS, CA) listening on {}", socket_path);
  return ok();
}

void GrpcSocketServer::stop(std::chrono::milliseconds grace) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
  ::unlink(path_.c_str());
}

}  // namespace warren::agent
