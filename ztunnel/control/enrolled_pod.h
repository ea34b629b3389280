// A pod ZDS handed over (INTEROP §13): the ONE description of it, from the parsed ZDS add to
// the listeners, the certificate it needs and the data path. Made once (its identity checked
// then, so a pod whose namespace or service account cannot form a SPIFFE ID is refused in the
// add's ack), immutable, shared as shared_ptr<const EnrolledPod>.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/unique_fd.h"
#include "ztunnel/control/source_routing.h"

namespace warren::ztunnel {

struct EnrolledPod {
  std::string uid;  // Kubernetes uid, the ZDS key
  std::string name;
  std::string namespace_;
  std::string service_account;  // "default" when ZDS sent none
  std::string workload_uid;     // "Kubernetes//Pod/<ns>/<name>": the pod's xDS workload
  identity::SpiffeId identity;  // spiffe://<trust domain>/ns/<namespace>/sa/<service account>
  // The pod's network namespace (the fd ZDS passed); null where there is none (the in-process
  // data-path tests, whose pods share the test's own netns).
  std::shared_ptr<const UniqueFd> netns;
  // What ZDS's add installed in that netns so inbound connections reach the app from the
  // client's address (source_routing.h); all false: the app sees the pod's own address.
  SourceRouting source_routing;

  static Result<EnrolledPod> make(std::string uid, std::string name, std::string namespace_,
                                  std::string service_account, std::string_view trust_domain,
                                  std::shared_ptr<const UniqueFd> netns = nullptr);
};

}  // namespace warren::ztunnel
