#include "agent/model/security_kinds.h"

#include "common/net/ip_cidr.h"

namespace warren::agent {
namespace {

using k8s::Fields;

Status readList(const Fields& f, const std::string& key, std::vector<std::string>& out) {
  auto v = f.stringList(key);
  if (!v) return fail(v.error());
  out = std::move(*v);
  return ok();
}

Result<std::optional<k8s::Labels>> readSelector(const Fields& spec) {
  if (!spec.has("selector")) return std::optional<k8s::Labels>{};
  Fields sel = spec.child("selector");
  if (sel.missing()) return std::optional<k8s::Labels>{};
  if (auto s = sel.expectMap(); !s) return fail(s.error());
  auto m = sel.stringMap("matchLabels");
  if (!m) return fail(m.error());
  return std::optional<k8s::Labels>(std::move(*m));
}

Result<AuthzSource> decodeSource(const Fields& f) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  AuthzSource src;
  struct Entry {
    const char* key;
    std::vector<std::string>* out;
  };
  const Entry entries[] = {
      {"principals", &src.principals},
      {"notPrincipals", &src.not_principals},
      {"requestPrincipals", &src.request_principals},
      {"notRequestPrincipals", &src.not_request_principals},
      {"namespaces", &src.namespaces},
      {"notNamespaces", &src.not_namespaces},
      {"ipBlocks", &src.ip_blocks},
      {"notIpBlocks", &src.not_ip_blocks},
      {"remoteIpBlocks", &src.remote_ip_blocks},
      {"notRemoteIpBlocks", &src.not_remote_ip_blocks},
      {"serviceAccounts", &src.service_accounts},
      {"notServiceAccounts", &src.not_service_accounts},
  };
  for (const auto& e : entries) WARREN_TRY(readList(f, e.key, *e.out));
  const Entry ip_entries[] = {{"ipBlocks", &src.ip_blocks},
                              {"notIpBlocks", &src.not_ip_blocks},
                              {"remoteIpBlocks", &src.remote_ip_blocks},
                              {"notRemoteIpBlocks", &src.not_remote_ip_blocks}};
  for (const auto& e : ip_entries) {
    for (const std::string& block : *e.out) {
      if (auto c = net::IpCidr::parse(block); !c) return fail(f.error(e.key, c.error().message()));
    }
  }
  return src;
}

Result<AuthzOperation> decodeOperation(const Fields& f) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  AuthzOperation op;
  struct Entry {
    const char* key;
    std::vector<std::string>* out;
  };
  const Entry entries[] = {
      {"ports", &op.ports},        {"notPorts", &op.not_ports}, {"hosts", &op.hosts},
      {"notHosts", &op.not_hosts}, {"methods", &op.methods},    {"notMethods", &op.not_methods},
      {"paths", &op.paths},        {"notPaths", &op.not_paths},
  };
  for (const auto& e : entries) WARREN_TRY(readList(f, e.key, *e.out));
  for (size_t i = 0; i < op.ports.size() + op.not_ports.size(); ++i) {
    bool neg = i >= op.ports.size();
    const std::string& p = neg ? op.not_ports[i - op.ports.size()] : op.ports[i];
    char* end = nullptr;
    long n = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || n < 1 || n > 65535)
      return fail(f.error(neg ? "notPorts" : "ports", "'" + p + "' is not a port number"));
  }
  return op;
}

// A list of {source: ...} / {operation: ...} wrappers.
template <class T, class Decode>
Status readWrapped(const Fields& rule, const std::string& key, const std::string& inner,
                   Decode decode, std::vector<T>& out) {
  Fields list = rule.child(key);
  if (auto s = list.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < list.size(); ++i) {
    Fields item = list.item(i);
    if (auto s = item.expectMap(); !s) return fail(s.error());
    auto v = decode(item.child(inner));
    if (!v) return fail(v.error());
    out.push_back(std::move(*v));
  }
  return ok();
}

// spec.targetRef (one) and spec.targetRefs (a list), as PolicyTargetReference.
Result<JwtRuleSpec> decodeJwtRule(const Fields& f) {
  if (auto s = f.expectMap(); !s) return fail(s.error());
  JwtRuleSpec r;
  auto issuer = f.str("issuer");
  if (!issuer) return fail(issuer.error());
  if (issuer->empty()) return fail(f.error("issuer", "missing"));
  r.issuer = *issuer;
  WARREN_TRY(readList(f, "audiences", r.audiences));
  auto jwks = f.str("jwks");
  if (!jwks) return fail(jwks.error());
  r.jwks = *jwks;
  auto uri = f.str("jwksUri");
  if (!uri) return fail(uri.error());
  r.jwks_uri = *uri;
  if (!r.jwks.empty() && !r.jwks_uri.empty())
    return fail(f.error("jwks", "jwks and jwksUri are exclusive"));
  if (!r.jwks_uri.empty() && !r.jwks_uri.starts_with("http://") &&
      !r.jwks_uri.starts_with("https://"))
    return fail(f.error("jwksUri", "'" + r.jwks_uri + "' is not an http(s) URL"));
  Fields headers = f.child("fromHeaders");
  if (auto s = headers.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < headers.size(); ++i) {
    Fields h = headers.item(i);
    if (auto s = h.expectMap(); !s) return fail(s.error());
    auto name = h.str("name");
    auto prefix = h.str("prefix");
    if (!name) return fail(name.error());
    if (!prefix) return fail(prefix.error());
    if (name->empty()) return fail(h.error("name", "missing"));
    r.from_headers.emplace_back(*name, *prefix);
  }
  WARREN_TRY(readList(f, "fromParams", r.from_params));
  WARREN_TRY(readList(f, "fromCookies", r.from_cookies));
  auto fwd = f.boolean("forwardOriginalToken", false);
  if (!fwd) return fail(fwd.error());
  r.forward_original_token = *fwd;
  Fields claims = f.child("outputClaimToHeaders");
  if (auto s = claims.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < claims.size(); ++i) {
    Fields c = claims.item(i);
    if (auto s = c.expectMap(); !s) return fail(s.error());
    auto header = c.str("header");
    auto claim = c.str("claim");
    if (!header) return fail(header.error());
    if (!claim) return fail(claim.error());
    if (header->empty()) return fail(c.error("header", "missing"));
    if (claim->empty()) return fail(c.error("claim", "missing"));
    r.output_claim_to_headers.emplace_back(*header, *claim);
  }
  auto payload = f.str("outputPayloadToHeader");
  if (!payload) return fail(payload.error());
  r.output_payload_to_header = *payload;
  return r;
}

}  // namespace

Status readTargetRefs(const k8s::Fields& spec, std::vector<PolicyTargetRef>& out) {
  auto one = [&](const k8s::Fields& f) -> Status {
    if (auto s = f.expectMap(); !s) return fail(s.error());
    PolicyTargetRef r;
    auto group = f.str("group");
    auto kind = f.str("kind");
    auto name = f.str("name");
    auto ns = f.str("namespace");
    if (!group) return fail(group.error());
    if (!kind) return fail(kind.error());
    if (!name) return fail(name.error());
    if (!ns) return fail(ns.error());
    if (kind->empty()) return fail(f.error("kind", "missing"));
    if (name->empty()) return fail(f.error("name", "missing"));
    r.group = *group == "core" ? "" : *group;
    r.kind = *kind;
    r.name = *name;
    r.namespace_ = *ns;
    out.push_back(std::move(r));
    return ok();
  };
  if (spec.has("targetRef")) WARREN_TRY(one(spec.child("targetRef")));
  k8s::Fields list = spec.child("targetRefs");
  if (auto s = list.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < list.size(); ++i) WARREN_TRY(one(list.item(i)));
  return ok();
}

bool isSecurityApiVersion(const std::string& v) {
  return v == "security.istio.io/v1" || v == "security.istio.io/v1beta1" ||
         v == "warren.dev/v1alpha1";
}

Result<AuthorizationPolicy> decodeAuthorizationPolicy(const k8s::Object& obj) {
  if (!isSecurityApiVersion(obj.api_version))
    return fail(
        obj.fieldError("apiVersion", "expected security.istio.io/v1 or warren.dev/v1alpha1"));
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  AuthorizationPolicy p;
  p.meta = obj.meta;
  auto dry = obj.meta.annotations.find("istio.io/dry-run");
  p.dry_run = dry != obj.meta.annotations.end() && dry->second == "true";
  if (spec.missing()) return p;  // empty spec: ALLOW nothing (deny all) in the namespace
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  auto sel = readSelector(spec);
  if (!sel) return fail(sel.error());
  p.selector = std::move(*sel);
  WARREN_TRY(readTargetRefs(spec, p.target_refs));
  if (spec.has("provider")) {
    auto provider = spec.child("provider").str("name");
    if (!provider) return fail(provider.error());
    p.provider = *provider;
  }
  auto action = spec.str("action", "ALLOW");
  if (!action) return fail(action.error());
  if (*action != "ALLOW" && *action != "DENY" && *action != "AUDIT" && *action != "CUSTOM")
    return fail(
        spec.error("action", "expected ALLOW, DENY, AUDIT or CUSTOM, got '" + *action + "'"));
  p.action = *action;
  p.has_rules_field = spec.has("rules");
  Fields rules = spec.child("rules");
  if (auto s = rules.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < rules.size(); ++i) {
    Fields rf = rules.item(i);
    AuthzRule rule;
    if (!rf.missing()) {
      if (auto s = rf.expectMap(); !s) return fail(s.error());
      WARREN_TRY(readWrapped<AuthzSource>(rf, "from", "source", decodeSource, rule.from));
      WARREN_TRY(readWrapped<AuthzOperation>(rf, "to", "operation", decodeOperation, rule.to));
      Fields when = rf.child("when");
      if (auto s = when.expectSequence(); !s) return fail(s.error());
      for (size_t j = 0; j < when.size(); ++j) {
        Fields wf = when.item(j);
        if (auto s = wf.expectMap(); !s) return fail(s.error());
        AuthzCondition c;
        auto key = wf.str("key");
        if (!key) return fail(key.error());
        if (key->empty()) return fail(wf.error("key", "missing"));
        c.key = *key;
        WARREN_TRY(readList(wf, "values", c.values));
        WARREN_TRY(readList(wf, "notValues", c.not_values));
        // L4 keys are translated value by value: a bad value must reject the policy here
        // rather than be dropped later (dropping one from a DENY would allow more).
        for (const auto* list : {&c.values, &c.not_values}) {
          const char* field = list == &c.values ? "values" : "notValues";
          for (const std::string& v : *list) {
            if (c.key == "source.ip" || c.key == "destination.ip" || c.key == "remote.ip") {
              if (auto cidr = net::IpCidr::parse(v); !cidr)
                return fail(wf.error(field, cidr.error().message()));
            } else if (c.key == "destination.port") {
              char* end = nullptr;
              long n = std::strtol(v.c_str(), &end, 10);
              if (v.empty() || *end != '\0' || n < 1 || n > 65535)
                return fail(wf.error(field, "'" + v + "' is not a port number"));
            }
          }
        }
        rule.when.push_back(std::move(c));
      }
    }
    p.rules.push_back(std::move(rule));
  }
  return p;
}

Result<RequestAuthentication> decodeRequestAuthentication(const k8s::Object& obj) {
  if (!isSecurityApiVersion(obj.api_version))
    return fail(
        obj.fieldError("apiVersion", "expected security.istio.io/v1 or warren.dev/v1alpha1"));
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  RequestAuthentication ra;
  ra.meta = obj.meta;
  if (spec.missing()) return ra;
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  auto sel = readSelector(spec);
  if (!sel) return fail(sel.error());
  ra.selector = std::move(*sel);
  WARREN_TRY(readTargetRefs(spec, ra.target_refs));
  Fields rules = spec.child("jwtRules");
  if (auto s = rules.expectSequence(); !s) return fail(s.error());
  for (size_t i = 0; i < rules.size(); ++i) {
    auto r = decodeJwtRule(rules.item(i));
    if (!r) return fail(r.error());
    ra.jwt_rules.push_back(std::move(*r));
  }
  return ra;
}

Result<PeerAuthentication> decodePeerAuthentication(const k8s::Object& obj) {
  if (!isSecurityApiVersion(obj.api_version))
    return fail(
        obj.fieldError("apiVersion", "expected security.istio.io/v1 or warren.dev/v1alpha1"));
  Fields root(obj, obj.node, "");
  Fields spec = root.child("spec");
  PeerAuthentication p;
  p.meta = obj.meta;
  if (spec.missing()) return p;
  if (auto s = spec.expectMap(); !s) return fail(s.error());
  auto sel = readSelector(spec);
  if (!sel) return fail(sel.error());
  p.selector = std::move(*sel);
  auto check_mode = [](const Fields& f, const std::string& key) -> Result<std::string> {
    auto m = f.str(key, "UNSET");
    if (!m) return fail(m.error());
    if (*m != "UNSET" && *m != "DISABLE" && *m != "PERMISSIVE" && *m != "STRICT")
      return fail(f.error(key, "expected UNSET, DISABLE, PERMISSIVE or STRICT, got '" + *m + "'"));
    return *m;
  };
  Fields mtls = spec.child("mtls");
  if (auto s = mtls.expectMap(); !s) return fail(s.error());
  auto mode = check_mode(mtls, "mode");
  if (!mode) return fail(mode.error());
  p.mode = *mode;
  Fields ports = spec.child("portLevelMtls");
  if (auto s = ports.expectMap(); !s) return fail(s.error());
  if (!ports.missing()) {
    for (const auto& kv : ports.node()) {
      std::string key = kv.first.Scalar();
      char* end = nullptr;
      long n = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || n < 1 || n > 65535)
        return fail(ports.error(key, "not a port number"));
      Fields pm = ports.child(key);
      if (auto s = pm.expectMap(); !s) return fail(s.error());
      auto m = check_mode(pm, "mode");
      if (!m) return fail(m.error());
      p.port_modes[static_cast<uint16_t>(n)] = *m;
    }
  }
  return p;
}

}  // namespace warren::agent
