// Talks to the agent admin API (README.md) over its unix socket and returns parsed JSON.
// Errors say which socket was tried, how it was chosen and what to check.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "warrenctl/admin_socket_locator.h"
#include "warrenctl/resource_kind.h"

namespace warren::ctl {

class AdminClient {
 public:
  explicit AdminClient(SocketLocation location,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5'000))
      : location_(std::move(location)), timeout_(timeout) {}

  // GET <apiPath(kind)>?<query>.
  Result<nlohmann::json> get(ResourceKind kind,
                             const std::map<std::string, std::string>& query = {}) const;

  // PUT /api/v1/log?level=L&component=C.
  Result<nlohmann::json> setLogLevel(const std::string& level, const std::string& component) const;

  const SocketLocation& location() const { return location_; }

 private:
  Result<nlohmann::json> call(const std::string& method, const std::string& path,
                              const std::map<std::string, std::string>& query) const;

  SocketLocation location_;
  std::chrono::milliseconds timeout_;
};

}  // namespace warren::ctl
