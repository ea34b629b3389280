#include "mesh/rbac/rbac_evaluator.h"

#include <gtest/gtest.h>

#include "tests/mesh/mesh_fixture.h"

namespace warren::mesh {
namespace {

using namespace testing;
using Scope = AuthorizationScope;
using Action = AuthorizationAction;

// --- builders -----------------------------------------------------------------------------

AuthorizationMatch principals(std::vector<StringMatch> v) {
  AuthorizationMatch m;
  m.principals = std::move(v);
  return m;
}
AuthorizationMatch notPrincipals(std::vector<StringMatch> v) {
  AuthorizationMatch m;
  m.not_principals = std::move(v);
  return m;
}
AuthorizationMatch namespaces(std::vector<StringMatch> v) {
  AuthorizationMatch m;
  m.namespaces = std::move(v);
  return m;
}
AuthorizationMatch ports(std::vector<uint16_t> v) {
  AuthorizationMatch m;
  m.destination_ports = std::move(v);
  return m;
}
AuthorizationMatch notPorts(std::vector<uint16_t> v) {
  AuthorizationMatch m;
  m.not_destination_ports = std::move(v);
  return m;
}
AuthorizationMatch sourceIps(std::vector<std::string> v, bool negate = false) {
  AuthorizationMatch m;
  for (const auto& s : v) (negate ? m.not_source_ips : m.source_ips).push_back(cidr(s));
  return m;
}
AuthorizationMatch destinationIps(std::vector<std::string> v) {
  AuthorizationMatch m;
  for (const auto& s : v) m.destination_ips.push_back(cidr(s));
  return m;
}
AuthorizationMatch serviceAccounts(std::string ns, std::string sa, bool negate = false) {
  AuthorizationMatch m;
  (negate ? m.not_service_accounts : m.service_accounts).push_back({ns, sa});
  return m;
}

using Rule = std::vector<AuthorizationMatch>;  // matches, OR-ed
using Group = std::vector<Rule>;               // rules, AND-ed

Authorization policy(std::string name, Action action, std::vector<Group> groups,
                     Scope scope = Scope::kNamespace, std::string ns = "default",
                     bool dry_run = false) {
  Authorization a;
  a.name = std::move(name);
  a.namespace_ = std::move(ns);
  a.scope = scope;
  a.action = action;
  a.dry_run = dry_run;
  for (auto& g : groups) {
    AuthorizationGroup group;
    for (auto& r : g) group.rules.push_back(AuthorizationRule{std::move(r)});
    a.groups.push_back(std::move(group));
  }
  return a;
}
// One group, one rule, one match: the common shape.
Authorization simple(std::string name, Action action, AuthorizationMatch m,
                     Scope scope = Scope::kNamespace) {
  return policy(std::move(name), action, {{{std::move(m)}}}, scope);
}
Authorization dryRun(Authorization a) {
  a.dry_run = true;
  return a;
}

ConnectionContext mtls(std::string ns, std::string sa, std::string src, uint16_t port = 8080,
                       std::string dst = "10.244.1.11") {
  return ConnectionContext{*identity::SpiffeId::make("cluster.local", ns, sa), ip(src), ip(dst),
                           port};
}
ConnectionContext plaintext(std::string src, uint16_t port = 8080,
                            std::string dst = "10.244.1.11") {
  return ConnectionContext{std::nullopt, ip(src), ip(dst), port};
}

const ConnectionContext kClient = mtls("default", "client", "10.244.1.10");
const ConnectionContext kProd = mtls("prod", "api", "10.244.2.10");
const ConnectionContext kPlain = plaintext("192.168.5.5");

struct Want {
  bool allowed;
  std::string reason;
  std::string policy;  // "" = none
};

struct Case {
  std::string name;
  std::vector<Authorization> policies;
  ConnectionContext conn;
  Want want;
  std::optional<Want> dry_run = std::nullopt;
  std::vector<std::string> selected = {};  // Workload.authorization_policies
};

// The decision points into the snapshot (RbacDecision::policy), so both travel together.
struct Evaluated {
  std::shared_ptr<const StateSnapshot> snapshot;
  RbacDecision decision;
};

Evaluated evaluate(const Case& c) {
  StateUpdate u;
  auto web = pod("default", "web-0", {"10.244.1.11", "fd00::11"}, "node-1", "web");
  web.authorization_policies = c.selected;
  u.workloads = {web};
  u.policies = c.policies;
  auto snap = build(u);
  auto d = evaluateRbac(snap->policiesFor(*snap->workloadByUid(web.uid)), c.conn);
  return {snap, d};
}

TEST(RbacEvaluator, DecisionTable) {
  const auto exact = StringMatch::exact;
  const auto prefix = StringMatch::prefix;
  const auto suffix = StringMatch::suffix;
  const auto presence = StringMatch::presence;
  const Case cases[] = {
      {"no policies: allow", {}, kClient, {true, "no_allow_policies", ""}},
      {"ALLOW exact principal: match",
       {simple("p", Action::kAllow, principals({exact("cluster.local/ns/default/sa/client")}))},
       kClient, {true, "allow_matched", "default/p"}},
      {"ALLOW exact principal: other identity denied",
       {simple("p", Action::kAllow, principals({exact("cluster.local/ns/default/sa/client")}))},
       kProd, {false, "no_allow_matched", ""}},
      {"principal with spiffe:// prefix never matches (written without it)",
       {simple("p", Action::kAllow,
               principals({exact("spiffe://cluster.local/ns/default/sa/client")}))},
       kClient, {false, "no_allow_matched", ""}},
      {"ALLOW prefix principal",
       {simple("p", Action::kAllow, principals({prefix("cluster.local/ns/prod/")}))}, kProd,
       {true, "allow_matched", "default/p"}},
      {"ALLOW suffix principal (values OR-ed)",
       {simple("p", Action::kAllow, principals({exact("x"), suffix("/sa/client")}))}, kClient,
       {true, "allow_matched", "default/p"}},
      {"ALLOW presence: plaintext has no principal",
       {simple("p", Action::kAllow, principals({presence()}))}, kPlain,
       {false, "no_allow_matched", ""}},
      {"DENY by namespace", {simple("d", Action::kDeny, namespaces({exact("prod")}))}, kProd,
       {false, "deny_matched", "default/d"}},
      {"DENY by namespace leaves others allowed (no ALLOW policies)",
       {simple("d", Action::kDeny, namespaces({exact("prod")}))}, kClient,
       {true, "no_allow_policies", ""}},
      {"DENY wins over a matching ALLOW",
       {simple("a", Action::kAllow, principals({presence()})),
        simple("d", Action::kDeny, principals({suffix("/sa/client")}))},
       kClient, {false, "deny_matched", "default/d"}},
      {"ALLOW by destination port: other port denied",
       {simple("p", Action::kAllow, ports({8080}))}, mtls("default", "client", "10.244.1.10", 9090),
       {false, "no_allow_matched", ""}},
      {"DENY notDestinationPorts", {simple("d", Action::kDeny, notPorts({8080, 8443}))},
       mtls("default", "client", "10.244.1.10", 22), {false, "deny_matched", "default/d"}},
      {"ALLOW source CIDR v4: inside",
       {simple("p", Action::kAllow, sourceIps({"10.244.1.0/24"}))}, kClient,
       {true, "allow_matched", "default/p"}},
      {"ALLOW source CIDR v4: outside", {simple("p", Action::kAllow, sourceIps({"10.244.1.0/24"}))},
       kProd, {false, "no_allow_matched", ""}},
      {"ALLOW source CIDR v6",
       {simple("p", Action::kAllow, sourceIps({"fd00:1::/64"}))},
       mtls("default", "client", "fd00:1::7", 8080, "fd00::11"),
       {true, "allow_matched", "default/p"}},
      {"DENY notSourceIps", {simple("d", Action::kDeny, sourceIps({"10.0.0.0/8"}, true))},
       kPlain, {false, "deny_matched", "default/d"}},
      {"ALLOW destination IP", {simple("p", Action::kAllow, destinationIps({"fd00::11/128"}))},
       mtls("default", "client", "fd00::10", 8080, "fd00::11"),
       {true, "allow_matched", "default/p"}},
      {"ALLOW service account", {simple("p", Action::kAllow, serviceAccounts("prod", "api"))},
       kProd, {true, "allow_matched", "default/p"}},
      {"ALLOW service account: plaintext cannot match",
       {simple("p", Action::kAllow, serviceAccounts("prod", "api"))}, kPlain,
       {false, "no_allow_matched", ""}},
      {"DENY notServiceAccounts", {simple("d", Action::kDeny, serviceAccounts("prod", "api", true))},
       kClient, {false, "deny_matched", "default/d"}},
      {"STRICT (DENY notPrincipals presence) denies plaintext",
       {simple("strict", Action::kDeny, notPrincipals({presence()}), Scope::kGlobal)}, kPlain,
       {false, "deny_matched", "default/strict"}},
      {"STRICT lets mTLS through",
       {simple("strict", Action::kDeny, notPrincipals({presence()}), Scope::kGlobal)}, kClient,
       {true, "no_allow_policies", ""}},
      {"STRICT with a PERMISSIVE port: plaintext on that port allowed",
       {policy("strict", Action::kDeny, {{{notPrincipals({presence()})}, {notPorts({9090})}}})},
       plaintext("192.168.5.5", 9090), {true, "no_allow_policies", ""}},
      {"STRICT with a PERMISSIVE port: plaintext elsewhere denied",
       {policy("strict", Action::kDeny, {{{notPrincipals({presence()})}, {notPorts({9090})}}})},
       kPlain, {false, "deny_matched", "default/strict"}},
      {"inside a match, kinds are AND-ed",
       {simple("p", Action::kAllow, [] {
          auto m = principals({StringMatch::suffix("/sa/client")});
          m.source_ips = {cidr("10.9.0.0/16")};
          return m;
        }())},
       kClient, {false, "no_allow_matched", ""}},
      {"rules in a group are AND-ed",
       {policy("p", Action::kAllow, {{{principals({suffix("/sa/client")})}, {ports({9090})}}})},
       kClient, {false, "no_allow_matched", ""}},
      {"matches in a rule are OR-ed",
       {policy("p", Action::kAllow, {{{principals({exact("nobody")}), ports({8080})}}})},
       kClient, {true, "allow_matched", "default/p"}},
      {"groups are OR-ed",
       {policy("p", Action::kAllow, {{{ports({1})}}, {{namespaces({exact("default")})}}})},
       kClient, {true, "allow_matched", "default/p"}},
      {"ALLOW with no groups (allow-nothing) denies everything",
       {policy("nothing", Action::kAllow, {})}, kClient, {false, "no_allow_matched", ""}},
      {"a rule with no matches holds",
       {policy("p", Action::kAllow, {{Rule{}, {ports({8080})}}})}, kClient,
       {true, "allow_matched", "default/p"}},
      {"ALLOW whose only match is empty (L7-only) never matches: istio/istio#61126",
       {policy("l7", Action::kAllow, {{{AuthorizationMatch{}}}})}, kClient,
       {false, "no_allow_matched", ""}},
      {"DENY whose only match is empty never fires: istio/istio#61126",
       {policy("l7", Action::kDeny, {{{AuthorizationMatch{}}}})}, kClient,
       {true, "no_allow_policies", ""}},
      {"an empty match is skipped, its siblings still count",
       {policy("p", Action::kAllow, {{{AuthorizationMatch{}, ports({8080})}}})}, kClient,
       {true, "allow_matched", "default/p"}},
      {"NAMESPACE policy of another namespace does not apply",
       {policy("other", Action::kDeny, {{{ports({8080})}}}, Scope::kNamespace, "prod")}, kClient,
       {true, "no_allow_policies", ""}},
      {"GLOBAL policy from the root namespace applies",
       {policy("mesh", Action::kDeny, {{{ports({8080})}}}, Scope::kGlobal, "warren-system")},
       kClient, {false, "deny_matched", "warren-system/mesh"}},
      {"selector policy not listed by the workload does not apply",
       {policy("sel", Action::kDeny, {{{ports({8080})}}}, Scope::kWorkloadSelector)}, kClient,
       {true, "no_allow_policies", ""}},
      {"selector policy listed by the workload applies",
       {policy("sel", Action::kDeny, {{{ports({8080})}}}, Scope::kWorkloadSelector)}, kClient,
       {false, "deny_matched", "default/sel"}, std::nullopt, {"default/sel"}},
      {"dry-run DENY is reported, not enforced",
       {dryRun(simple("dry", Action::kDeny, ports({8080})))}, kClient,
       {true, "no_allow_policies", ""}, Want{false, "deny_matched", "default/dry"}},
      {"dry-run ALLOW that would not match",
       {dryRun(simple("dry", Action::kAllow, ports({1})))}, kClient,
       {true, "no_allow_policies", ""}, Want{false, "no_allow_matched", ""}},
      {"dry-run ALLOW rescuing an enforced denial",
       {simple("a", Action::kAllow, ports({1})), dryRun(simple("dry", Action::kAllow, ports({8080})))},
       kClient, {false, "no_allow_matched", ""}, Want{true, "allow_matched", "default/dry"}},
      {"dry-run cannot undo an enforced DENY",
       {simple("d", Action::kDeny, ports({8080})), dryRun(simple("dry", Action::kAllow, ports({8080})))},
       kClient, {false, "deny_matched", "default/d"}, Want{false, "deny_matched", "default/d"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto [snap, d] = evaluate(c);
    EXPECT_EQ(d.allowed, c.want.allowed);
    EXPECT_EQ(toString(d.reason), c.want.reason);
    EXPECT_EQ(d.policy ? d.policy->key() : "", c.want.policy);
    ASSERT_EQ(d.dry_run.has_value(), c.dry_run.has_value());
    if (c.dry_run) {
      EXPECT_EQ(d.dry_run->allowed, c.dry_run->allowed);
      EXPECT_EQ(toString(d.dry_run->reason), c.dry_run->reason);
      EXPECT_EQ(d.dry_run->policy ? d.dry_run->policy->key() : "", c.dry_run->policy);
    }
  }
}

TEST(RbacEvaluator, DecisionJson) {
  Case c{"", {simple("d", Action::kDeny, ports({8080})), dryRun(simple("x", Action::kDeny, ports({8080})))},
         kClient, {false, "deny_matched", "default/d"}};
  auto e = evaluate(c);
  auto j = e.decision.toJson();
  EXPECT_EQ(j["allowed"], false);
  EXPECT_EQ(j["reason"], "deny_matched");
  EXPECT_EQ(j["policy"], "default/d");
  EXPECT_EQ(j["dryRun"]["policy"], "default/d");
}

}  // namespace
}  // namespace warren::mesh
