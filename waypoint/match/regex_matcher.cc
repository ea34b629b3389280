#include "waypoint/match/regex_matcher.h"

#include <fmt/format.h>
#include <re2/re2.h>

namespace warren::waypoint {

Result<RegexMatcher> RegexMatcher::compile(std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re =
      std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    return fail(Error::invalid(fmt::format("bad regex '{}': {}", pattern, re->error())));
  }
  if (re->ProgramSize() > kMaxProgramSize) {
    return fail(Error::invalid(fmt::format("regex '{}' is too complex: program size {} > {}",
                                           pattern, re->ProgramSize(), kMaxProgramSize)));
  }
  return RegexMatcher(std::move(re));
}

bool RegexMatcher::fullMatch(std::string_view input) const {
  return RE2::FullMatch(re2::StringPiece(input.data(), input.size()), *re_);
}

const std::string& RegexMatcher::pattern() const { return re_->pattern(); }

}  // namespace warren::waypoint
