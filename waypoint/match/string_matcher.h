// Istio's string-value syntax for AuthorizationPolicy fields (security/v1beta1/authorization.proto
// "Rule": "Any string field in the rule supports Exact, Prefix, Suffix and Presence match"),
// compiled the way istiod does (pilot/pkg/security/authz/matcher/string.go StringMatcher,
// header.go HeaderMatcher / HostMatcher):
//
//   value     kind      matches
//   "abc"     exact     "abc"
//   "abc*"    prefix    "abc", "abcd"
//   "*abc"    suffix    "abc", "xabc"
//   "*"       presence  any non-empty value (istiod: regex ".+"); for headers, any value at all
//                       (Envoy present_match)
//
// Only a leading or trailing '*' is special; "a*b" is the literal "a*b", exactly as istiod
// builds it. `ignore_case` is for hosts (istiod HostMatcher sets ignore_case).
#pragma once

#include <string>
#include <string_view>

namespace warren::waypoint {

class StringMatcher {
 public:
  enum class Kind { kExact, kPrefix, kSuffix, kPresence };

  static StringMatcher parse(std::string_view value, bool ignore_case = false);
  // A given kind with a literal taken as is (no '*' parsing).
  static StringMatcher of(Kind kind, std::string_view literal, bool ignore_case = false);

  bool matches(std::string_view value) const;
  Kind kind() const { return kind_; }
  // The literal part (without the '*').
  const std::string& literal() const { return literal_; }

 private:
  Kind kind_ = Kind::kExact;
  std::string literal_;
  bool ignore_case_ = false;
};

}  // namespace warren::waypoint
