// RouteNetlink: the few rtnetlink requests Warren makes (policy-routing rules and a local
// route in a table), over a NETLINK_ROUTE socket of the calling thread's netns when opened
// (open it inside a NetnsGuard to act on a pod's netns). Each request waits for the kernel's
// acknowledgement; "already there" (adding) and "not there" (deleting) are success, so every
// step can be repeated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::net {

// `ip rule add pref PRIORITY [fwmark MARK/MASK] lookup TABLE` for one family.
struct RoutingRule {
  int family = 0;  // AF_INET or AF_INET6
  uint32_t priority = 0;
  uint32_t table = 0;
  std::optional<uint32_t> fwmark;
  uint32_t fwmask = 0xffffffff;
};

// `ip route add local 0.0.0.0/0 (::/0) dev IFINDEX table TABLE`: every destination delivered
// to this host, for the packets a rule sends to that table.
struct LocalDefaultRoute {
  int family = 0;
  uint32_t table = 0;
  int ifindex = 1;  // "lo": the kernel registers it first in every netns
};

class RouteNetlink {
 public:
  static Result<RouteNetlink> open();

  Status addRule(const RoutingRule& rule);
  Status deleteRule(const RoutingRule& rule);
  Status addRoute(const LocalDefaultRoute& route);
  Status deleteRoute(const LocalDefaultRoute& route);

 private:
  explicit RouteNetlink(UniqueFd fd) : fd_(std::move(fd)) {}
  Status changeRule(const RoutingRule& rule, bool add);
  Status changeRoute(const LocalDefaultRoute& route, bool add);
  // Sends one request of `family` and reads its acknowledgement; `tolerated` (EEXIST, ENOENT)
  // is success.
  Status request(int family, void* msg, size_t len, int tolerated, const std::string& what);

  UniqueFd fd_;
  uint32_t seq_ = 0;
};

}  // namespace warren::net
