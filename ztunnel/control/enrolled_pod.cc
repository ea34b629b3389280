#include "ztunnel/control/enrolled_pod.h"

#include <fmt/format.h>

namespace warren::ztunnel {

Result<EnrolledPod> EnrolledPod::make(std::string uid, std::string name, std::string namespace_,
                                      std::string service_account, std::string_view trust_domain,
                                      std::shared_ptr<const UniqueFd> netns) {
  if (service_account.empty()) service_account = "default";
  auto id = identity::SpiffeId::make(trust_domain, namespace_, service_account);
  if (!id) {
    return fail(id.error().wrap(fmt::format("pod {}/{} ({}): identity", namespace_, name, uid)));
  }
  std::string workload_uid = fmt::format("Kubernetes//Pod/{}/{}", namespace_, name);
  return EnrolledPod{
      std::move(uid),          std::move(name), std::move(namespace_), std::move(service_account),
      std::move(workload_uid), std::move(*id),  std::move(netns),           SourceRouting{}};
}

}  // namespace warren::ztunnel
