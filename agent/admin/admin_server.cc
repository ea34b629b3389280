#include "agent/admin/admin_server.h"

#include <spdlog/spdlog.h>

namespace warren::agent::admin {

AdminServer::~AdminServer() { server_.reset(); }  // stop serving before the routes go

Result<std::unique_ptr<AdminServer>> AdminServer::start(AdminSources sources) {
  const std::string path = sources.options.run_dir + "/admin.sock";
  auto routes = AdminRoutes::create(std::move(sources));
  if (!routes) return fail(routes.error());
  std::unique_ptr<AdminServer> self(new AdminServer());
  self->routes_ = std::move(*routes);
  auto server = http::HttpServer::start(
      http::HttpServerOptions::at(http::ListenAddress::unixSocket(path), "admin"),
      self->routes_->router());
  if (!server) return fail(server.error().wrap("admin API on " + path));
  self->server_ = std::move(*server);
  spdlog::info("admin API on {} (ztunnel admin at {})", path, self->routes_->ztunnel().toString());
  return self;
}

}  // namespace warren::agent::admin
