// Conversion from the workload xDS protos (istio.workload.Address, istio.security.
// Authorization; INTEROP §10-11) to ztunnel's state types, with validation. Runs on the
// control thread BEFORE SnapshotStore::apply, i.e. outside any lock.
//
// A resource with bad bytes or fields (an address that is not 4 or 16 bytes, a port above
// 65535, an enum value this build does not know, a StringMatch with nothing set, a prefix
// length too long for its address...) is rejected as a whole with an error naming it; the
// rest of the push is kept. Rejecting, not trimming: ztunnel drops unparseable matchers one
// by one, which can silently turn an ALLOW into allow-all; a skipped policy is visible.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"
#include "mesh/state/state_snapshot.h"

namespace warren::mesh {

inline constexpr std::string_view kAddressTypeUrl = "type.googleapis.com/istio.workload.Address";
inline constexpr std::string_view kAuthorizationTypeUrl =
    "type.googleapis.com/istio.security.Authorization";

Result<Workload> convertWorkload(const istio::workload::Workload& proto);
Result<Service> convertService(const istio::workload::Service& proto);
Result<Authorization> convertAuthorization(const istio::security::Authorization& proto);

// One delta push of either type URL, converted. `rejected` names every skipped resource;
// `accepted_versions` maps each converted resource's name to its version (what a reconnecting
// client re-subscribes with as initial_resource_versions).
struct ConvertedDelta {
  StateUpdate update;
  std::vector<Error> rejected;
  std::map<std::string, std::string> accepted_versions;
};
ConvertedDelta convertDelta(const envoy::service::discovery::v3::DeltaDiscoveryResponse& response);

}  // namespace warren::mesh
