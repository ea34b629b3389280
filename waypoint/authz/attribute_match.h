// One AuthorizationPolicy field or `when` condition, compiled: which request attribute it
// reads, and the values / notValues it compares against. A field holds when any value matches
// (none given: true) and no notValue matches, which is how istiod builds Envoy RBAC
// (pilot/pkg/security/authz/model/model.go: values OR-ed, notValues under a NOT).
//
// Attribute semantics, each as istiod generates it (pilot/pkg/security/authz/model/generator.go)
// and Envoy evaluates it:
//
//   attribute                   reads                              values
//   source.principal            peer identity without "spiffe://"  string syntax; no mTLS: false
//   source.namespace            the identity's namespace           '*' anywhere is a wildcard
//                                                                  (istiod: regex .*/ns/<v>/.*)
//   source.ip, remote.ip,       the connection's addresses         address or CIDR
//   destination.ip
//   destination.port            the port dialled                   decimal 0..65535
//   connection.sni              TLS server name                    string syntax
//   request.auth.principal      JWT "<iss>/<sub>"                  split at the last '/': iss
//                                                                  and sub matched apart, '*'
//                                                                  rules of
//                                                                  requestPrincipalGenerator
//   request.auth.audiences      JWT aud (string or list)           string syntax, any element
//   request.auth.presenter      JWT azp                            string syntax
//   request.auth.claims[a][b]   a (nested) JWT claim               string syntax; a list claim
//                                                                  matches when any element does
//   request.headers[name]       the header, repeated values        string syntax; "*" = present
//                               joined with ","
//   hosts                       :authority (port not stripped)     string syntax, case-insensitive
//   methods                     :method                            string syntax
//   paths                       the normalized path, no query      string syntax, or a template
//                                                                  with {*} (one segment) / {**}
//                                                                  (any run of segments)
//
// Path templates compile to the RE2 expression Envoy's uri_template builds
// (source/extensions/path/uri_template_lib/uri_template_internal.cc): {*} -> [pchar]+,
// {**} -> [pchar/]*, literal segments escaped; validated as istiod does
// (pkg/config/security/security.go CheckValidPathTemplate: {**} is the last operator, no other
// '{' '}', literals are pchar).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"
#include "waypoint/jwt/jwt_claims.h"
#include "waypoint/match/regex_matcher.h"
#include "waypoint/match/string_matcher.h"
#include "waypoint/request/http_request.h"
#include "waypoint/request/ip_block.h"

namespace warren::waypoint {

enum class Attribute : uint8_t {
  kSourcePrincipal,
  kSourceNamespace,
  kSourceIp,
  kRemoteIp,
  kDestinationIp,
  kDestinationPort,
  kConnectionSni,
  kRequestPrincipal,
  kRequestAudiences,
  kRequestPresenter,
  kRequestClaim,
  kRequestHeader,
  kHost,
  kMethod,
  kPath,
};

const char* attributeName(Attribute a);
// Attributes only an HTTP request has (istiod: "is HTTP only").
bool isHttpOnly(Attribute a);

// requestPrincipals value "iss/sub" (split at the last '/'): each side matched on its own.
struct RequestPrincipalMatcher {
  StringMatcher issuer;
  StringMatcher subject;
};

// A source.namespace value: '*' matches any run of characters, anywhere in the value.
struct NamespaceGlob {
  std::string pattern;
};

using AttributeValue = std::variant<StringMatcher, RegexMatcher, IpBlock, uint16_t,
                                    RequestPrincipalMatcher, NamespaceGlob>;

struct AttributeMatch {
  Attribute attribute = Attribute::kPath;
  std::string header;                   // kRequestHeader: lower-case name
  std::vector<std::string> claim_path;  // kRequestClaim
  std::vector<AttributeValue> values;
  std::vector<AttributeValue> not_values;
};

// The request as matches read it. `http` is null for plain TCP through the waypoint; `jwt` is
// null when the request carries no verified token.
struct AuthzContext {
  AuthzContext(const ConnectionInfo& c, const HttpRequest* h, const JwtClaims* j);
  const ConnectionInfo& conn;
  const HttpRequest* http;
  const JwtClaims* jwt;
  std::string_view principal;  // "" without a peer identity
};

// Whether the field holds. For plain TCP an HTTP-only field holds (it is dropped, so a DENY
// matches more: callers never evaluate ALLOW rules that need HTTP on TCP; l7_policy_set.h).
bool attributeHolds(const AttributeMatch& m, const AuthzContext& ctx);

// Parses one value of `attribute` (errors name the value: "bad port 'http'").
Result<AttributeValue> parseAttributeValue(Attribute attribute, std::string_view value);

// Parses a `when` key into its attribute (with the header name or claim path it carries).
// Unknown attributes, and the ones istiod rejects (destination.labels...), are errors.
Result<AttributeMatch> parseConditionKey(std::string_view key);

// Path templates ("/api/{*}/items/{**}") as Envoy matches them; errors as istiod's validation.
bool isPathTemplate(std::string_view path);
Result<RegexMatcher> compilePathTemplate(std::string_view path);

}  // namespace warren::waypoint
