// A workload identity: the SPIFFE ID `spiffe://<trust-domain>/ns/<namespace>/sa/<sa>` that sits
// in the URI SAN of every mesh certificate (INTEROP §10 "Identity").
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::ztunnel {

struct SpiffeIdentity {
  std::string trust_domain;
  std::string namespace_;
  std::string service_account;

  // "spiffe://td/ns/x/sa/y" (parsing accepts only this Istio shape; other SPIFFE paths are
  // not mesh identities here).
  static Result<SpiffeIdentity> parse(std::string_view uri);
  std::string toString() const;
  // "td/ns/x/sa/y": the form AuthorizationPolicy principals are written in.
  std::string principal() const;

  friend bool operator==(const SpiffeIdentity&, const SpiffeIdentity&) = default;
};

inline void to_json(nlohmann::json& j, const SpiffeIdentity& id) { j = id.toString(); }

}  // namespace warren::ztunnel
