#include "bpf/loader/fast_path_config.h"

#include <arpa/inet.h>

#include <charconv>

namespace warren::redirect {

Result<warren_fastpath_cfg> fastPathConfig(const std::string& pod_cidr) {
  warren_fastpath_cfg cfg{};
  if (pod_cidr.empty()) return cfg;
  const auto bad = [&](const std::string& why) {
    return fail(Error::invalid("--pod-cidr '" + pod_cidr + "': " + why));
  };
  const auto slash = pod_cidr.find('/');
  if (slash == std::string::npos) return bad("expected ADDRESS/PREFIX");
  const std::string address = pod_cidr.substr(0, slash);
  const std::string prefix = pod_cidr.substr(slash + 1);
  uint32_t words = 0;
  if (::inet_pton(AF_INET, address.c_str(), &cfg.pod_net.addr[0]) == 1) {
    cfg.pod_net.family = WARREN_AF_INET;
    words = 1;
  } else if (::inet_pton(AF_INET6, address.c_str(), cfg.pod_net.addr) == 1) {
    cfg.pod_net.family = WARREN_AF_INET6;
    words = 4;
  } else {
    return bad("not an IP address: '" + address + "'");
  }
  uint32_t len = 0;
  auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), len);
  if (prefix.empty() || ec != std::errc() || end != prefix.data() + prefix.size() ||
      len > words * 32)
    return bad("prefix length must be 0.." + std::to_string(words * 32));
  cfg.pod_prefix_len = len;
  // Clear the host bits, so the network address compares equal under the prefix mask.
  for (uint32_t i = 0; i < words; ++i) {
    const uint32_t covered = len > i * 32 ? len - i * 32 : 0;
    const uint32_t mask = covered == 0    ? 0
                          : covered >= 32 ? 0xffffffffu
                                          : 0xffffffffu << (32 - covered);
    cfg.pod_net.addr[i] = htonl(ntohl(cfg.pod_net.addr[i]) & mask);
  }
  return cfg;
}

}  // namespace warren::redirect
