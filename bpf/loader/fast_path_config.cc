#include "bpf/loader/fast_path_config.h"

#include <arpa/inet.h>

#include "bpf/loader/bpf_address.h"
#include "common/net/ip_cidr.h"

namespace warren::redirect {

Result<warren_fastpath_cfg> fastPathConfig(const std::string& pod_cidr) {
  warren_fastpath_cfg cfg{};
  if (pod_cidr.empty()) return cfg;
  const auto bad = [&](const std::string& why) {
    return fail(Error::invalid("--pod-cidr '" + pod_cidr + "': " + why));
  };
  if (pod_cidr.find('/') == std::string::npos) return bad("expected ADDRESS/PREFIX");
  auto cidr = net::IpCidr::parse(pod_cidr);
  if (!cidr) return bad(cidr.error().message());
  cfg.pod_net = toBpfAddress(cidr->address());
  const uint32_t words = cidr->address().isV6() ? 4 : 1;
  const uint32_t len = cidr->prefixLength();
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
