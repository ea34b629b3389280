#include "bpf/loader/inbound_registration.h"

#include <bpf/bpf.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <fstream>
#include <memory>

#include "bpf/loader/bpf_address.h"
#include "bpf/loader/pin_dir.h"
#include "warren_abi.h"

namespace warren::redirect {

Status writePinDirFile(const std::string& run_dir, const std::string& pin_dir) {
  const std::string path = run_dir + "/" + kPinDirFile;
  const std::string tmp = run_dir + "/." + kPinDirFile + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << pin_dir << "\n";
    if (!out) return fail(WARREN_SYS_ERROR("write " + tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(WARREN_SYS_ERROR("rename " + path));
  return ok();
}

Result<std::string> readPinDirFile(const std::string& run_dir) {
  const std::string path = run_dir + "/" + kPinDirFile;
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty() || line[0] != '/')
    return fail(Error::notFound("no BPF pin directory in " + path));
  return line;
}

Result<std::vector<net::IpAddress>> localAddresses() {
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) return fail(WARREN_SYS_ERROR("getifaddrs"));
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> list(raw, ::freeifaddrs);
  std::vector<net::IpAddress> out;
  for (ifaddrs* i = raw; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK)) continue;
    if (i->ifa_addr->sa_family == AF_INET6 &&
        IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr)) {
      continue;
    }
    socklen_t len = i->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    auto a = net::SocketAddress::fromSockaddr(i->ifa_addr, len);
    if (a) out.push_back(a->ip);  // other families (AF_PACKET...) are not addresses here
  }
  return out;
}

Status registerInboundListener(const std::string& pin_dir, int listener_fd,
                               const std::vector<net::IpAddress>& pod_addresses) {
  auto map = openPin(pin_dir + "/" WARREN_MAP_INBOUND);
  if (!map) return fail(map.error());
  for (const auto& ip : pod_addresses) {
    warren_addr key = toBpfAddress(ip);
    uint64_t value = static_cast<uint64_t>(listener_fd);
    if (bpf_map_update_elem(map->get(), &key, &value, BPF_ANY) != 0)
      return fail(WARREN_SYS_ERROR("register 15006 listener for " + ip.toString()));
  }
  return ok();
}

}  // namespace warren::redirect
