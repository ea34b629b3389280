#include "lab/scheduler.h"

#include <arpa/inet.h>

#include "lab/lab_names.h"

namespace warren::lab {
namespace {

constexpr uint32_t kServiceBase = (10u << 24) | (96u << 16);
constexpr uint32_t kServiceMask = 0xffff0000u;

std::string formatIp(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

}  // namespace

Result<std::string> pickNode(const std::string& requested, const std::vector<NodeLoad>& nodes) {
  if (nodes.empty()) return fail(Error(ErrorCode::kUnavailable, "no nodes to schedule on"));
  if (!requested.empty()) {
    for (const auto& n : nodes)
      if (n.name == requested) return requested;
    return fail(Error::notFound("node '" + requested + "' does not exist"));
  }
  const NodeLoad* best = &nodes.front();
  for (const auto& n : nodes)
    if (n.pods < best->pods) best = &n;
  return best->name;
}

bool runByLab(const std::string& node_name) {
  return node_name.empty() || LabNames::parseNodeName(node_name).has_value();
}

bool inServiceCidr(const std::string& ip) {
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) & kServiceMask) == kServiceBase;
}

Result<std::string> allocateClusterIp(const std::set<std::string>& used) {
  for (uint32_t host = 1; host < 0xffff; ++host) {
    std::string ip = formatIp(kServiceBase | host);
    if (!used.contains(ip)) return ip;
  }
  return fail(Error(ErrorCode::kUnavailable,
                    std::string("service CIDR ") + kServiceCidr + " is exhausted"));
}

}  // namespace warren::lab
