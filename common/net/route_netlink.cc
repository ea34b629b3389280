#include "common/net/route_netlink.h"

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace warren::net {
namespace {

// One request: the netlink header, the family header and up to a few u32 attributes.
struct Message {
  std::array<char, 256> buf{};
  size_t len = 0;

  template <class Header>
  Header* start(uint16_t type, uint16_t flags) {
    auto* nh = reinterpret_cast<nlmsghdr*>(buf.data());
    nh->nlmsg_type = type;
    nh->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    len = NLMSG_LENGTH(sizeof(Header));
    nh->nlmsg_len = static_cast<uint32_t>(len);
    return reinterpret_cast<Header*>(NLMSG_DATA(nh));
  }
  void u32(uint16_t type, uint32_t value) {
    auto* a = reinterpret_cast<rtattr*>(buf.data() + NLMSG_ALIGN(len));
    a->rta_type = type;
    a->rta_len = static_cast<uint16_t>(RTA_LENGTH(sizeof(value)));
    std::memcpy(RTA_DATA(a), &value, sizeof(value));
    len = NLMSG_ALIGN(len) + RTA_ALIGN(a->rta_len);
    reinterpret_cast<nlmsghdr*>(buf.data())->nlmsg_len = static_cast<uint32_t>(len);
  }
};

constexpr uint16_t kCreate = NLM_F_CREATE | NLM_F_EXCL;

Status checkFamily(int family) {
  if (family == AF_INET || family == AF_INET6) return ok();
  return fail(Error::invalid("rtnetlink: family " + std::to_string(family) + " is not IPv4/IPv6"));
}

Message ruleMessage(const RoutingRule& r, uint16_t type, uint16_t flags) {
  Message m;
  auto* h = m.start<fib_rule_hdr>(type, flags);
  h->family = static_cast<uint8_t>(r.family);
  h->action = FR_ACT_TO_TBL;
  h->table = r.table < 256 ? static_cast<uint8_t>(r.table) : uint8_t{RT_TABLE_UNSPEC};
  m.u32(FRA_TABLE, r.table);
  m.u32(FRA_PRIORITY, r.priority);
  if (r.fwmark) {
    m.u32(FRA_FWMARK, *r.fwmark);
    m.u32(FRA_FWMASK, r.fwmask);
  }
  return m;
}

Message routeMessage(const LocalDefaultRoute& r, uint16_t type, uint16_t flags) {
  Message m;
  auto* h = m.start<rtmsg>(type, flags);
  h->rtm_family = static_cast<uint8_t>(r.family);
  h->rtm_table = r.table < 256 ? static_cast<uint8_t>(r.table) : uint8_t{RT_TABLE_UNSPEC};
  h->rtm_protocol = RTPROT_BOOT;
  h->rtm_scope = RT_SCOPE_HOST;
  h->rtm_type = RTN_LOCAL;
  m.u32(RTA_TABLE, r.table);
  m.u32(RTA_OIF, static_cast<uint32_t>(r.ifindex));
  return m;
}

std::string describe(const RoutingRule& r) {
  std::string s =
      std::string(r.family == AF_INET6 ? "-6 " : "") + "rule pref " + std::to_string(r.priority);
  if (r.fwmark) s += " fwmark " + std::to_string(*r.fwmark);
  return s + " lookup " + std::to_string(r.table);
}

std::string describe(const LocalDefaultRoute& r) {
  return std::string(r.family == AF_INET6 ? "-6 " : "") + "route local default dev " +
         std::to_string(r.ifindex) + " table " + std::to_string(r.table);
}

}  // namespace

Result<RouteNetlink> RouteNetlink::open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return fail(WARREN_SYS_ERROR("socket(NETLINK_ROUTE)"));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    return fail(WARREN_SYS_ERROR("bind(NETLINK_ROUTE)"));
  return RouteNetlink(std::move(fd));
}

Status RouteNetlink::request(int family, void* msg, size_t len, int tolerated,
                             const std::string& what) {
  WARREN_TRY(checkFamily(family));
  auto* nh = reinterpret_cast<nlmsghdr*>(msg);
  nh->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return fail(WARREN_SYS_ERROR("rtnetlink send: " + what));
  std::array<char, 4096> reply{};
  for (;;) {
    ssize_t n = ::recv(fd_.get(), reply.data(), reply.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(WARREN_SYS_ERROR("rtnetlink receive: " + what));
    }
    int left = static_cast<int>(n);
    for (auto* r = reinterpret_cast<nlmsghdr*>(reply.data()); NLMSG_OK(r, left);
         r = NLMSG_NEXT(r, left)) {
      if (r->nlmsg_seq != seq_ || r->nlmsg_type != NLMSG_ERROR) continue;
      if (r->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
        return fail(Error(ErrorCode::kProtocol, "rtnetlink: short ack: " + what));
      int err = -reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(r))->error;
      if (err == 0 || err == tolerated) return ok();
      return fail(Error::system(err, "rtnetlink: " + what));
    }
  }
}

Status RouteNetlink::addRule(const RoutingRule& rule) { return changeRule(rule, true); }
Status RouteNetlink::deleteRule(const RoutingRule& rule) { return changeRule(rule, false); }
Status RouteNetlink::addRoute(const LocalDefaultRoute& route) { return changeRoute(route, true); }
Status RouteNetlink::deleteRoute(const LocalDefaultRoute& route) {
  return changeRoute(route, false);
}

Status RouteNetlink::changeRule(const RoutingRule& rule, bool add) {
  Message m = ruleMessage(rule, add ? RTM_NEWRULE : RTM_DELRULE, add ? kCreate : 0);
  return request(rule.family, m.buf.data(), m.len, add ? EEXIST : ENOENT,
                 (add ? "add " : "delete ") + describe(rule));
}

Status RouteNetlink::changeRoute(const LocalDefaultRoute& route, bool add) {
  Message m = routeMessage(route, add ? RTM_NEWROUTE : RTM_DELROUTE, add ? kCreate : 0);
  return request(route.family, m.buf.data(), m.len, add ? EEXIST : ESRCH,
                 (add ? "add " : "delete ") + describe(route));
}

}  // namespace warren::net
