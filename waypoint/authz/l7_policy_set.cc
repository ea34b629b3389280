#include "waypoint/authz/l7_policy_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <span>
#include <unordered_map>

namespace warren::waypoint {
namespace {

// ---- compiled policies ------------------------------------------------------------------------

struct CompiledRule {
  std::vector<std::vector<AttributeMatch>> from;  // any of these (all fields of one) must hold
  std::vector<std::vector<AttributeMatch>> to;
  std::vector<AttributeMatch> when;  // all must hold
  bool needs_http = false;  // an ALLOW rule with an HTTP-only field: never matches plain TCP
  bool never = false;       // an ALLOW rule with a value that does not parse
};

struct CompiledPolicy {
  std::string key;  // "ns/name"
  AuthzAction action = AuthzAction::kAllow;
  bool dry_run = false;
  std::vector<CompiledRule> rules;
};

bool allHold(const std::vector<AttributeMatch>& fields, const AuthzContext& ctx) {
  return std::all_of(fields.begin(), fields.end(),
                     [&](const AttributeMatch& m) { return attributeHolds(m, ctx); });
}

bool anyHolds(const std::vector<std::vector<AttributeMatch>>& alternatives,
              const AuthzContext& ctx) {
  if (alternatives.empty()) return true;
  return std::any_of(alternatives.begin(), alternatives.end(),
                     [&](const auto& fields) { return allHold(fields, ctx); });
}

bool ruleHolds(const CompiledRule& r, const AuthzContext& ctx) {
  if (r.never || (r.needs_http && !ctx.http)) return false;
  return allHold(r.when, ctx) && anyHolds(r.to, ctx) && anyHolds(r.from, ctx);
}

// Compiles one policy, recording each problem and applying the fail-closed rule of the header.
class PolicyCompiler {
 public:
  PolicyCompiler(const AuthzPolicy& p, std::vector<AuthzDiagnostic>& diagnostics)
      : policy_(p), diagnostics_(diagnostics) {}

  CompiledPolicy compile() {
    CompiledPolicy out;
    out.key = policy_.namespace_ + "/" + policy_.name;
    out.action = policy_.action;
    out.dry_run = policy_.dry_run;
    if (policy_.action == AuthzAction::kCustom) {
      report("action", fmt::format("CUSTOM (provider '{}') is not supported: the requests its "
                                   "rules match are denied",
                                   policy_.provider));
    }
    for (size_t i = 0; i < policy_.rules.size(); ++i) {
      out.rules.push_back(rule(policy_.rules[i], fmt::format("rules[{}]", i)));
    }
    return out;
  }

 private:
  bool allowLike() const { return policy_.action == AuthzAction::kAllow; }

  void report(const std::string& field, const std::string& message) {
    diagnostics_.push_back(
        {fmt::format("AuthorizationPolicy {}/{}", policy_.namespace_, policy_.name),
         fmt::format("{}: {}", field, message)});
  }

  // Adds `values`/`not_values` of one field to `fields` (nothing when both are empty).
  void field(std::vector<AttributeMatch>& fields, AttributeMatch m,
             const std::vector<std::string>& values, const std::vector<std::string>& not_values,
             const std::string& name, CompiledRule& rule) {
    if (values.empty() && not_values.empty()) return;
    auto parse = [&](const std::vector<std::string>& in, std::vector<AttributeValue>& out,
                     const std::string& list) {
      for (size_t i = 0; i < in.size(); ++i) {
        auto v = parseAttributeValue(m.attribute, in[i]);
        if (v) {
          out.push_back(std::move(*v));
          continue;
        }
        report(fmt::format("{}.{}[{}]", name, list, i),
               v.error().message() +
                   (allowLike() ? " (the rule never matches)" : " (value ignored: matches more)"));
        if (allowLike()) rule.never = true;
      }
    };
    parse(values, m.values, "values");
    parse(not_values, m.not_values, "notValues");
    if (m.values.empty() && m.not_values.empty()) return;  // every value dropped
    if (allowLike() && isHttpOnly(m.attribute)) rule.needs_http = true;
    fields.push_back(std::move(m));
  }

  static AttributeMatch of(Attribute a) {
    AttributeMatch m;
    m.attribute = a;
    return m;
  }

  CompiledRule rule(const AuthzRule& r, const std::string& at) {
    CompiledRule out;
    for (size_t i = 0; i < r.from.size(); ++i) {
      const AuthzSource& s = r.from[i];
      std::string f = fmt::format("{}.from[{}].source", at, i);
      std::vector<AttributeMatch> fields;
      field(fields, of(Attribute::kSourcePrincipal), s.principals, s.not_principals,
            f + ".principals", out);
      field(fields, of(Attribute::kRequestPrincipal), s.request_principals,
            s.not_request_principals, f + ".requestPrincipals", out);
      field(fields, of(Attribute::kSourceNamespace), s.namespaces, s.not_namespaces,
            f + ".namespaces", out);
      field(fields, of(Attribute::kSourceIp), s.ip_blocks, s.not_ip_blocks, f + ".ipBlocks", out);
      field(fields, of(Attribute::kRemoteIp), s.remote_ip_blocks, s.not_remote_ip_blocks,
            f + ".remoteIpBlocks", out);
      out.from.push_back(std::move(fields));
    }
    for (size_t i = 0; i < r.to.size(); ++i) {
      const AuthzOperation& o = r.to[i];
      std::string f = fmt::format("{}.to[{}].operation", at, i);
      std::vector<AttributeMatch> fields;
      field(fields, of(Attribute::kHost), o.hosts, o.not_hosts, f + ".hosts", out);
      field(fields, of(Attribute::kDestinationPort), o.ports, o.not_ports, f + ".ports", out);
      field(fields, of(Attribute::kMethod), o.methods, o.not_methods, f + ".methods", out);
      field(fields, of(Attribute::kPath), o.paths, o.not_paths, f + ".paths", out);
      out.to.push_back(std::move(fields));
    }
    for (size_t i = 0; i < r.when.size(); ++i) {
      std::string f = fmt::format("{}.when[{}]", at, i);
      auto key = parseConditionKey(r.when[i].key);
      if (!key) {
        report(f + ".key",
               key.error().message() + (allowLike() ? " (the rule never matches)"
                                                    : " (condition ignored: matches more)"));
        if (allowLike()) out.never = true;
        continue;
      }
      if (r.when[i].values.empty() && r.when[i].not_values.empty()) {
        report(f, "a condition needs values or notValues");
        continue;
      }
      field(out.when, std::move(*key), r.when[i].values, r.when[i].not_values, f, out);
    }
    return out;
  }

  const AuthzPolicy& policy_;
  std::vector<AuthzDiagnostic>& diagnostics_;
};

// ---- the index -------------------------------------------------------------------------------

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Buckets = std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>>;

// "/api/v1/x" -> "/api"; "/api" -> "/api"; "/" -> "/".
std::string_view firstSegment(std::string_view path) {
  size_t slash = path.find('/', 1);
  return slash == std::string_view::npos ? path : path.substr(0, slash);
}

// The first literal segment of a compiled path template ("/api/[...]+" -> "/api"), if it is
// followed by more of the template.
std::optional<std::string> templateSegment(const RegexMatcher& re) {
  std::string_view p = re.pattern();
  size_t slash = p.find('/', 1);
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view seg = p.substr(1, slash - 1);
  if (seg.empty() || seg.find('[') != std::string_view::npos) return std::nullopt;
  std::string out = "/";
  for (char c : seg) {
    if (c != '\\') out.push_back(c);
  }
  return out;
}

struct RuleRef {
  const CompiledPolicy* policy;
  const CompiledRule* rule;
};

// The rules of one action class in one scope, in policy order, indexed for HTTP requests.
class RuleGroup {
 public:
  void add(const CompiledPolicy* p) {
    ++policies_;
    for (const auto& r : p->rules) rules_.push_back({p, &r});
  }
  bool empty() const { return policies_ == 0; }

  void buildIndex() {
    for (uint32_t i = 0; i < rules_.size(); ++i) {
      const CompiledRule& r = *rules_[i].rule;
      if (r.never) continue;  // matches nothing, not even as a residual
      if (indexByPath(r, i) || indexByPrincipal(r, i) || indexByHeader(r, i)) continue;
      residual_.push_back(i);
    }
  }

  // The first policy (in order) with a rule that holds.
  const CompiledPolicy* firstMatch(const AuthzContext& ctx, bool use_index) const {
    if (!use_index || !ctx.http) return linear(ctx);
    std::array<std::span<const uint32_t>, kMaxBuckets> heads;
    size_t n = 0;
    auto add = [&](const Buckets& b, std::string_view key) {
      auto it = b.find(key);
      if (it != b.end()) heads[n++] = it->second;
    };
    add(exact_path_, ctx.http->path);
    add(path_segment_, firstSegment(ctx.http->path));
    if (!ctx.principal.empty()) add(principal_, ctx.principal);
    if (header_.size() > kMaxBuckets - 4) return linear(ctx);
    std::string scratch;
    for (const auto& [name, buckets] : header_) {
      if (auto v = ctx.http->headers.joinedView(name, scratch)) add(buckets, *v);
    }
    heads[n++] = residual_;
    // Merge the sorted lists, evaluating each rule once, lowest index (= policy order) first.
    while (true) {
      uint32_t next = UINT32_MAX;
      for (size_t k = 0; k < n; ++k) {
        if (!heads[k].empty()) next = std::min(next, heads[k].front());
      }
      if (next == UINT32_MAX) return nullptr;
      for (size_t k = 0; k < n; ++k) {
        if (!heads[k].empty() && heads[k].front() == next) heads[k] = heads[k].subspan(1);
      }
      if (ruleHolds(*rules_[next].rule, ctx)) return rules_[next].policy;
    }
  }

  // Every policy with a rule that holds (AUDIT), in order.
  void allMatches(const AuthzContext& ctx, std::vector<std::string_view>& out) const {
    const CompiledPolicy* last = nullptr;
    for (const auto& r : rules_) {
      if (r.policy != last && ruleHolds(*r.rule, ctx)) {
        out.push_back(r.policy->key);
        last = r.policy;
      }
    }
  }

 private:
  static constexpr size_t kMaxBuckets = 16;

  const CompiledPolicy* linear(const AuthzContext& ctx) const {
    for (const auto& r : rules_) {
      if (ruleHolds(*r.rule, ctx)) return r.policy;
    }
    return nullptr;
  }

  static const AttributeMatch* positive(const std::vector<AttributeMatch>& fields, Attribute a) {
    for (const auto& m : fields) {
      if (m.attribute == a && !m.values.empty()) return &m;
    }
    return nullptr;
  }

  static void put(Buckets& b, std::string key, uint32_t i) {
    auto& v = b[std::move(key)];
    if (v.empty() || v.back() != i) v.push_back(i);
  }

  // Every `to` must require a path that is an exact value, or a prefix or template with a whole
  // first segment.
  bool indexByPath(const CompiledRule& r, uint32_t i) {
    if (r.to.empty()) return false;
    std::vector<std::pair<bool, std::string>> keys;  // {exact?, key}
    for (const auto& op : r.to) {
      const AttributeMatch* m = positive(op, Attribute::kPath);
      if (!m) return false;
      for (const auto& v : m->values) {
        if (const auto* s = std::get_if<StringMatcher>(&v)) {
          if (s->kind() == StringMatcher::Kind::kExact) {
            keys.emplace_back(true, s->literal());
            continue;
          }
          const std::string& lit = s->literal();
          if (s->kind() == StringMatcher::Kind::kPrefix && lit.size() > 1 && lit[0] == '/' &&
              lit.find('/', 1) != std::string::npos) {
            keys.emplace_back(false, std::string(firstSegment(lit)));
            continue;
          }
          return false;
        }
        auto seg = templateSegment(std::get<RegexMatcher>(v));
        if (!seg) return false;
        keys.emplace_back(false, std::move(*seg));
      }
    }
    for (auto& [is_exact, key] : keys) put(is_exact ? exact_path_ : path_segment_, key, i);
    return true;
  }

  bool indexByPrincipal(const CompiledRule& r, uint32_t i) {
    if (r.from.empty()) return false;
    std::vector<std::string> keys;
    for (const auto& src : r.from) {
      const AttributeMatch* m = positive(src, Attribute::kSourcePrincipal);
      if (!m) return false;
      for (const auto& v : m->values) {
        const auto& s = std::get<StringMatcher>(v);
        if (s.kind() != StringMatcher::Kind::kExact) return false;
        keys.push_back(s.literal());
      }
    }
    for (auto& k : keys) put(principal_, std::move(k), i);
    return true;
  }

  bool indexByHeader(const CompiledRule& r, uint32_t i) {
    for (const auto& m : r.when) {
      if (m.attribute != Attribute::kRequestHeader || m.values.empty()) continue;
      bool all_exact = std::all_of(m.values.begin(), m.values.end(), [](const auto& v) {
        return std::get<StringMatcher>(v).kind() == StringMatcher::Kind::kExact;
      });
      if (!all_exact) continue;
      auto it = std::find_if(header_.begin(), header_.end(),
                             [&](const auto& h) { return h.first == m.header; });
      if (it == header_.end()) it = header_.insert(header_.end(), {m.header, Buckets{}});
      for (const auto& v : m.values) put(it->second, std::get<StringMatcher>(v).literal(), i);
      return true;
    }
    return false;
  }

  size_t policies_ = 0;
  std::vector<RuleRef> rules_;
  Buckets exact_path_, path_segment_, principal_;
  std::vector<std::pair<std::string, Buckets>> header_;
  std::vector<uint32_t> residual_;
};

struct ScopeSet {
  RuleGroup custom, deny, allow, audit, dry_deny, dry_allow;

  void add(const CompiledPolicy* p) {
    switch (p->action) {
      case AuthzAction::kAllow:
        (p->dry_run ? dry_allow : allow).add(p);
        break;
      case AuthzAction::kDeny:
        (p->dry_run ? dry_deny : deny).add(p);
        break;
      case AuthzAction::kCustom:
        (p->dry_run ? dry_deny : custom).add(p);
        break;
      case AuthzAction::kAudit:
        audit.add(p);
        break;
    }
  }
  void buildIndex() {
    for (RuleGroup* g : {&custom, &deny, &allow, &audit, &dry_deny, &dry_allow}) g->buildIndex();
  }
};

}  // namespace

// ---- the set ----------------------------------------------------------------------------------

struct L7PolicySet::Impl {
  std::vector<std::unique_ptr<CompiledPolicy>> policies;
  ScopeSet waypoint;                        // waypoint-wide policies only
  std::map<ServiceKey, ScopeSet> services;  // waypoint-wide + the Service's own
};

L7PolicySet::L7PolicySet() : impl_(std::make_unique<Impl>()) {}
L7PolicySet::~L7PolicySet() = default;
size_t L7PolicySet::policyCount() const { return impl_->policies.size(); }

std::string AuthzDiagnostic::toString() const { return policy + ": " + message; }

L7PolicySet::CompileResult L7PolicySet::compile(const std::vector<AuthzPolicy>& policies) {
  CompileResult out;
  std::shared_ptr<L7PolicySet> set(new L7PolicySet());
  Impl& impl = *set->impl_;
  std::vector<bool> waypoint_wide;
  for (const auto& p : policies) {
    impl.policies.push_back(
        std::make_unique<CompiledPolicy>(PolicyCompiler(p, out.diagnostics).compile()));
    bool wide = p.targets.empty() ||
                std::any_of(p.targets.begin(), p.targets.end(), [](const AuthzTarget& t) {
                  return t.kind == AuthzTarget::Kind::kWaypoint;
                });
    waypoint_wide.push_back(wide);
    if (!wide) {
      for (const auto& t : p.targets) impl.services.try_emplace(t.service);
    }
  }
  for (size_t i = 0; i < policies.size(); ++i) {
    const CompiledPolicy* cp = impl.policies[i].get();
    if (waypoint_wide[i]) {
      impl.waypoint.add(cp);
      for (auto& [key, scope] : impl.services) scope.add(cp);
      continue;
    }
    for (auto& [key, scope] : impl.services) {
      bool targeted = std::any_of(policies[i].targets.begin(), policies[i].targets.end(),
                                  [&](const AuthzTarget& t) { return t.service == key; });
      if (targeted) scope.add(cp);
    }
  }
  impl.waypoint.buildIndex();
  for (auto& [key, scope] : impl.services) scope.buildIndex();
  out.set = std::move(set);
  return out;
}

AuthzDecision L7PolicySet::evaluate(const ServiceKey* service, const AuthzContext& ctx,
                                    bool use_index) const {
  const ScopeSet* scope = &impl_->waypoint;
  if (service) {
    auto it = impl_->services.find(*service);
    if (it != impl_->services.end()) scope = &it->second;
  }
  using Reason = AuthzDecision::Reason;
  AuthzDecision d;
  if (const CompiledPolicy* p = scope->custom.firstMatch(ctx, use_index)) {
    d = {false, Reason::kCustomUnsupported, p->key, {}, {}};
  } else if (const CompiledPolicy* q = scope->deny.firstMatch(ctx, use_index)) {
    d = {false, Reason::kDenyMatched, q->key, {}, {}};
  } else if (!scope->allow.empty()) {
    const CompiledPolicy* a = scope->allow.firstMatch(ctx, use_index);
    d.allowed = a != nullptr;
    d.reason = a ? Reason::kAllowMatched : Reason::kNoAllowMatched;
    if (a) d.policy = a->key;
  }
  if (!scope->audit.empty()) scope->audit.allMatches(ctx, d.audited);

  if (scope->dry_deny.empty() && scope->dry_allow.empty()) return d;
  // The shadow decision: dry-run policies counted as enforced (ztunnel's rbac_evaluator too).
  AuthzDecision::Shadow s{d.allowed, d.reason, d.policy};
  if (d.reason == Reason::kDenyMatched || d.reason == Reason::kCustomUnsupported) {
    // Already denied by an enforced policy.
  } else if (const CompiledPolicy* p = scope->dry_deny.firstMatch(ctx, use_index)) {
    s = {false, Reason::kDenyMatched, p->key};
  } else if (d.reason == Reason::kAllowMatched) {
    // Allowed by an enforced ALLOW: stays allowed.
  } else if (const CompiledPolicy* a = scope->dry_allow.firstMatch(ctx, use_index)) {
    s = {true, Reason::kAllowMatched, a->key};
  } else if (!scope->dry_allow.empty()) {
    s = {false, Reason::kNoAllowMatched, {}};
  }
  d.dry_run = s;
  return d;
}

const char* toString(AuthzDecision::Reason r) {
  switch (r) {
    case AuthzDecision::Reason::kNoAllowPolicies:
      return "no_allow_policies";
    case AuthzDecision::Reason::kAllowMatched:
      return "allow_matched";
    case AuthzDecision::Reason::kDenyMatched:
      return "deny_matched";
    case AuthzDecision::Reason::kNoAllowMatched:
      return "no_allow_matched";
    case AuthzDecision::Reason::kCustomUnsupported:
      return "custom_unsupported";
  }
  return "?";
}

nlohmann::json AuthzDecision::toJson() const {
  auto policy_json = [](std::string_view p) {
    return p.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(p));
  };
  nlohmann::json j = {
      {"allowed", allowed}, {"reason", toString(reason)}, {"policy", policy_json(policy)}};
  if (dry_run) {
    j["dryRun"] = {{"allowed", dry_run->allowed},
                   {"reason", toString(dry_run->reason)},
                   {"policy", policy_json(dry_run->policy)}};
  }
  if (!audited.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (auto p : audited) a.push_back(std::string(p));
    j["audited"] = a;
  }
  return j;
}

}  // namespace warren::waypoint
