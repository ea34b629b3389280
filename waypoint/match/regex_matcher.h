// An RE2 regular expression compiled once and matched against the whole input (RE2::FullMatch,
// as Envoy's safe_regex and Gateway API "RegularExpression" matches do: `/v[0-9]+` matches
// "/v2", not "/v2/x"). RE2 runs in time linear in the input, so a hostile pattern or request
// cannot make matching explode; patterns whose compiled program exceeds kMaxProgramSize are
// refused at compile time (Envoy bounds program size the same way,
// envoy.config.core.v3.RegexMatcher.GoogleRE2.max_program_size).
//
// Copies share the compiled program (RE2 matching is const and thread-safe).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace re2 {
class RE2;
}

namespace warren::waypoint {

class RegexMatcher {
 public:
  // Envoy's default max_program_size is 100 (a warning, not a limit, in recent Envoy); 1000
  // admits every realistic path or header pattern while bounding memory per pattern.
  static constexpr int kMaxProgramSize = 1000;

  // Errors name the pattern and RE2's reason ("bad regex '/v[': missing ]: [").
  static Result<RegexMatcher> compile(std::string_view pattern);

  bool fullMatch(std::string_view input) const;
  const std::string& pattern() const;

 private:
  explicit RegexMatcher(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace warren::waypoint
