#include "bpf/loader/inbound_registration.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <fstream>
#include <memory>

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

Result<std::vector<std::string>> localAddresses() {
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) return fail(WARREN_SYS_ERROR("getifaddrs"));
  std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> list(raw, ::freeifaddrs);
  std::vector<std::string> out;
  for (ifaddrs* i = raw; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK)) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof(buf));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
    } else {
      continue;
    }
    out.emplace_back(buf);
  }
  return out;
}

Status registerInboundListener(const std::string& pin_dir, int listener_fd,
                               const std::vector<std::string>& pod_addresses) {
  auto map = openPin(pin_dir + "/" WARREN_MAP_INBOUND);
  if (!map) return fail(map.error());
  for (const auto& text : pod_addresses) {
    warren_addr key{};
    if (::inet_pton(AF_INET, text.c_str(), &key.addr[0]) == 1) {
      key.family = WARREN_AF_INET;
    } else if (::inet_pton(AF_INET6, text.c_str(), key.addr) == 1) {
      key.family = WARREN_AF_INET6;
    } else {
      return fail(Error::invalid("not an IP address: '" + text + "'"));
    }
    uint64_t value = static_cast<uint64_t>(listener_fd);
    if (bpf_map_update_elem(map->get(), &key, &value, BPF_ANY) != 0)
      return fail(WARREN_SYS_ERROR("register 15006 listener for " + text));
  }
  return ok();
}

}  // namespace warren::redirect
