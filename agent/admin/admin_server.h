// The agent admin API served: HTTP/1.1 + JSON on <run-dir>/admin.sock (mode 0600: root only,
// like the run dir), with warren_http; the routes are admin_routes.h. Handlers run on the
// server's one thread.
#pragma once

#include <memory>

#include "agent/admin/admin_routes.h"
#include "common/error.h"
#include "common/http/http_server.h"

namespace warren::agent::admin {

class AdminServer {
 public:
  // Binds <run-dir>/admin.sock (replacing a stale socket) and serves on a thread of its own.
  // Fails naming --ztunnel-admin when that is not an address.
  static Result<std::unique_ptr<AdminServer>> start(AdminSources sources);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  const http::ListenAddress& address() const { return server_->address(); }

 private:
  AdminServer() = default;

  std::unique_ptr<AdminRoutes> routes_;
  std::unique_ptr<http::HttpServer> server_;  // after routes_: its handlers borrow them
};

}  // namespace warren::agent::admin
