// Builders for AuthorizationPolicy tables: policies, connections, requests and JWT identities.
#pragma once

#include <string>
#include <vector>

#include "waypoint/authz/l7_policy_set.h"

namespace warren::waypoint::testing {

inline AuthzPolicy policy(std::string name, AuthzAction action, std::vector<AuthzRule> rules,
                          std::string ns = "default") {
  AuthzPolicy p;
  p.namespace_ = std::move(ns);
  p.name = std::move(name);
  p.action = action;
  p.rules = std::move(rules);
  return p;
}
inline AuthzPolicy dryRun(AuthzPolicy p) {
  p.dry_run = true;
  return p;
}
inline AuthzPolicy forService(AuthzPolicy p, std::string service, std::string ns = "default") {
  p.targets.push_back({AuthzTarget::Kind::kService, ServiceKey{std::move(ns), std::move(service)}});
  return p;
}

inline AuthzRule to(AuthzOperation op) { return AuthzRule{{}, {std::move(op)}, {}}; }
inline AuthzRule from(AuthzSource src) { return AuthzRule{{std::move(src)}, {}, {}}; }
inline AuthzRule when(std::string key, std::vector<std::string> values,
                      std::vector<std::string> not_values = {}) {
  return AuthzRule{
      {}, {}, {AuthzCondition{std::move(key), std::move(values), std::move(not_values)}}};
}
inline AuthzOperation paths(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzOperation o;
  o.paths = std::move(v);
  o.not_paths = std::move(n);
  return o;
}
inline AuthzOperation methods(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzOperation o;
  o.methods = std::move(v);
  o.not_methods = std::move(n);
  return o;
}
inline AuthzOperation hosts(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzOperation o;
  o.hosts = std::move(v);
  o.not_hosts = std::move(n);
  return o;
}
inline AuthzOperation ports(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzOperation o;
  o.ports = std::move(v);
  o.not_ports = std::move(n);
  return o;
}
inline AuthzSource principals(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzSource s;
  s.principals = std::move(v);
  s.not_principals = std::move(n);
  return s;
}
inline AuthzSource requestPrincipals(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzSource s;
  s.request_principals = std::move(v);
  s.not_request_principals = std::move(n);
  return s;
}
inline AuthzSource namespaces(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzSource s;
  s.namespaces = std::move(v);
  s.not_namespaces = std::move(n);
  return s;
}
inline AuthzSource ipBlocks(std::vector<std::string> v, std::vector<std::string> n = {}) {
  AuthzSource s;
  s.ip_blocks = std::move(v);
  s.not_ip_blocks = std::move(n);
  return s;
}
inline AuthzSource remoteIpBlocks(std::vector<std::string> v) {
  AuthzSource s;
  s.remote_ip_blocks = std::move(v);
  return s;
}

inline IpAddress ip(std::string_view s) { return *IpAddress::parse(s); }

inline ConnectionInfo mtls(std::string ns, std::string sa, std::string src = "10.244.1.10",
                           uint16_t port = 8080) {
  ConnectionInfo c;
  c.source_identity = *identity::SpiffeId::make("cluster.local", ns, sa);
  c.source_ip = ip(src);
  c.remote_ip = c.source_ip;
  c.destination_ip = ip("10.96.0.10");
  c.destination_port = port;
  return c;
}
inline ConnectionInfo plaintext(std::string src = "192.168.5.5", uint16_t port = 8080) {
  ConnectionInfo c;
  c.source_ip = ip(src);
  c.remote_ip = c.source_ip;
  c.destination_ip = ip("10.96.0.10");
  c.destination_port = port;
  return c;
}

inline HttpRequest request(std::string method, std::string path, std::string host = "web",
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.authority = std::move(host);
  for (const auto& [k, v] : headers) r.headers.add(k, v);
  return r;
}

inline JwtClaims jwt(std::string iss, std::string sub,
                     nlohmann::json extra = nlohmann::json::object()) {
  JwtClaims c;
  c.issuer = std::move(iss);
  c.subject = std::move(sub);
  c.principal = c.issuer + "/" + c.subject;
  c.payload = std::move(extra);
  c.payload["iss"] = c.issuer;
  c.payload["sub"] = c.subject;
  if (c.payload.contains("aud")) {
    const auto& aud = c.payload["aud"];
    if (aud.is_string()) c.audiences.push_back(aud);
    if (aud.is_array()) {
      for (const auto& a : aud) c.audiences.push_back(a);
    }
  }
  if (c.payload.contains("azp")) c.presenter = c.payload["azp"];
  return c;
}

}  // namespace warren::waypoint::testing
