// L7 authorization at the waypoint with Istio's semantics, as a pure evaluator over a compiled,
// indexed set of AuthorizationPolicies.
//
// Decision, in Istio's order (pilot/pkg/security/authz/builder/builder.go: CUSTOM runs first,
// then DENY, then ALLOW; AUDIT only marks):
//   1. a CUSTOM policy's rules match   -> denied (kCustomUnsupported). Warren has no ext_authz;
//      istiod, when it cannot build a CUSTOM provider, generates a DENY for the requests the
//      policy's rules match ("will generate deny configs"), and so does this: fail closed, and
//      compile() reports the policy.
//   2. a DENY policy matches           -> denied
//   3. ALLOW policies apply            -> allowed only if one matches
//   4. otherwise                       -> allowed
// A denial is answered 403 with the body "RBAC: access denied" (Envoy's RBAC filter). AUDIT
// policies that match are listed (for the access log); dry-run policies
// (istio.io/dry-run: "true") never change the decision, they are evaluated into a shadow
// decision, what would happen had they been enforced (Envoy shadow_rules).
//
// Matching (pilot/pkg/security/authz/model/model.go): a policy matches when any rule does; no
// rules: never. A rule holds when any of its `from` sources, any of its `to` operations and
// every `when` condition hold (an absent list holds). Fields: attribute_match.h.
//
// Fail closed where Istio does, and where Istio is silent: a value that cannot be evaluated
// (plain TCP has no path, a value does not parse, a `when` key is unknown) makes an ALLOW rule
// never match (istiod skips the rule) and is dropped from a DENY/AUDIT/CUSTOM rule, which then
// matches more (istiod ignores the value for those actions, model.go checkError). Istio skips a
// DENY rule with an unknown `when` key entirely; Warren drops the key instead, so a typo never
// turns a DENY off. Every such problem is reported by compile().
//
// Cost: evaluating 1,000 policies one after the other costs microseconds per request, so each
// action's rules are indexed by a condition every request they can match must meet: the exact
// path, the first path segment of a prefix or template, the exact peer principal, or an exact
// header value. A request only evaluates the rules its path, principal and headers select plus
// the few with no such condition, in policy order, so the first match is the same policy a
// linear scan finds (tests/waypoint/authz_evaluator_test.cc checks both agree;
// bench/micro/l7_authz_bench.cc measures both).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/authz/attribute_match.h"
#include "waypoint/authz/authz_policy.h"

namespace warren::waypoint {

struct AuthzDiagnostic {
  std::string policy;   // "AuthorizationPolicy ns/name"
  std::string message;  // starts with the field: "rules[0].to[1].operation.ports[0]: bad port"
  std::string toString() const;
};

struct AuthzDecision {
  static constexpr int kDeniedStatus = 403;
  static constexpr std::string_view kDeniedBody = "RBAC: access denied";

  enum class Reason {
    kNoAllowPolicies,    // allowed: nothing denies, no ALLOW policy applies
    kAllowMatched,       // allowed by `policy`
    kDenyMatched,        // denied by `policy`
    kNoAllowMatched,     // denied: ALLOW policies apply, none matches
    kCustomUnsupported,  // denied: the CUSTOM `policy` matches and ext_authz is unsupported
  };
  bool allowed = true;
  Reason reason = Reason::kNoAllowPolicies;
  std::string_view policy;  // "ns/name" of the deciding policy ("" when none); lives in the set

  struct Shadow {
    bool allowed = true;
    Reason reason = Reason::kNoAllowPolicies;
    std::string_view policy;
  };
  std::optional<Shadow> dry_run;          // only when dry-run policies apply
  std::vector<std::string_view> audited;  // AUDIT policies that match

  nlohmann::json toJson() const;
};

const char* toString(AuthzDecision::Reason r);

class L7PolicySet {
 public:
  struct CompileResult {
    std::shared_ptr<const L7PolicySet> set;
    std::vector<AuthzDiagnostic> diagnostics;
  };
  // Policies keep their order: it decides which policy a decision names when several match.
  static CompileResult compile(const std::vector<AuthzPolicy>& policies);

  // `service`: the Service the request is for (its policies apply besides the waypoint-wide
  // ones), nullptr for a workload address. `use_index = false` scans every rule (tests, bench).
  AuthzDecision evaluate(const ServiceKey* service, const AuthzContext& ctx,
                         bool use_index = true) const;

  size_t policyCount() const;

  ~L7PolicySet();
  L7PolicySet(const L7PolicySet&) = delete;
  L7PolicySet& operator=(const L7PolicySet&) = delete;

 private:
  L7PolicySet();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::waypoint
