// L4 authorization with Istio's semantics (INTEROP §11; ztunnel src/state.rs `assert_rbac`,
// src/rbac.rs `matches`), as pure functions over a snapshot's pre-indexed policy lists.
//
// Decision: any enforced DENY policy matches -> deny; else if any enforced ALLOW policy
// applies -> allow only if one matches; else allow. Dry-run policies never change the
// decision; they are evaluated into a shadow decision (what would happen if they were
// enforced) reported next to it.
//
// Matching, exactly as ztunnel: a policy with no groups never matches; groups are OR-ed;
// inside a group, rules are AND-ed and a rule with no matches at all is true; a rule's matches
// are OR-ed, and an EMPTY match (an L7-only rule as istiod sends it) is skipped, so a rule
// made only of empty matches is false (istio/istio#61126). Inside a match, every field kind
// present must hold (positive: any value matches; negative: no value matches). Principals
// compare against the identity without "spiffe://"; plaintext connections have no identity,
// so `principals`/`namespaces`/`serviceAccounts` cannot match them and `notPrincipals:
// presence` (PeerAuthentication STRICT) always matches them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/identity/spiffe_id.h"
#include "mesh/state/state_snapshot.h"

namespace warren::mesh {

struct ConnectionContext {
  std::optional<identity::SpiffeId> source_identity;  // none: plaintext (inbound 15006)
  net::IpAddress source_ip;
  net::IpAddress destination_ip;
  uint16_t destination_port = 0;
};

// The connection in the form matches compare against, computed once per evaluation.
class PreparedConnection {
 public:
  explicit PreparedConnection(const ConnectionContext& conn);
  const ConnectionContext& conn() const { return conn_; }
  std::string_view principal() const { return principal_; }  // "" without identity
  std::string_view sourceNamespace() const { return namespace_; }

 private:
  const ConnectionContext& conn_;
  std::string_view principal_;  // into conn_.source_identity
  std::string_view namespace_;
};

bool policyMatches(const Authorization& policy, const PreparedConnection& conn);

struct RbacDecision {
  enum class Reason {
    kNoAllowPolicies,  // allowed: no DENY matched and no ALLOW policy applies
    kAllowMatched,     // allowed by `policy`
    kDenyMatched,      // denied by `policy`
    kNoAllowMatched,   // denied: ALLOW policies apply, none matched
  };
  bool allowed = true;
  Reason reason = Reason::kNoAllowPolicies;
  // The deciding policy; points into the snapshot, valid while the caller holds it.
  const Authorization* policy = nullptr;

  // Only when dry-run policies apply: the decision had they been enforced too.
  struct Shadow {
    bool allowed = true;
    Reason reason = Reason::kNoAllowPolicies;
    const Authorization* policy = nullptr;
  };
  std::optional<Shadow> dry_run;

  nlohmann::json toJson() const;
};

const char* toString(RbacDecision::Reason r);

RbacDecision evaluateRbac(const WorkloadPolicies& policies, const ConnectionContext& conn);

}  // namespace warren::mesh
