// Workload xDS (INTEROP §9-11) -> ztunnel types: istio.workload.Address and
// istio.security.Authorization protos become Workload / Service / Authorization values with
// validated fields. Pure; runs on the control thread before SnapshotStore::apply, outside any
// lock. Errors name the resource and the field that was wrong, for the NACK's error_detail.
#pragma once

#include <string>
#include <variant>

#include "common/error.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"
#include "ztunnel/state/authorization.h"
#include "ztunnel/state/service.h"
#include "ztunnel/state/workload.h"

namespace warren::ztunnel {

inline constexpr std::string_view kAddressTypeUrl = "type.googleapis.com/istio.workload.Address";
inline constexpr std::string_view kAuthorizationTypeUrl =
    "type.googleapis.com/istio.security.Authorization";

Result<Workload> convertWorkload(const istio::workload::Workload& w);
Result<Service> convertService(const istio::workload::Service& s);
// An Address is either a Workload or a Service; an empty oneof is an error.
Result<std::variant<Workload, Service>> convertAddress(const istio::workload::Address& a);
Result<Authorization> convertAuthorization(const istio::security::Authorization& a);

}  // namespace warren::ztunnel
