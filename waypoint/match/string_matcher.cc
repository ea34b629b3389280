#include "waypoint/match/string_matcher.h"

#include "waypoint/request/header_map.h"

namespace warren::waypoint {

StringMatcher StringMatcher::parse(std::string_view value, bool ignore_case) {
  StringMatcher m;
  m.ignore_case_ = ignore_case;
  // "*" first: istiod checks it first so prefix/suffix never end up empty.
  if (value == "*") {
    m.kind_ = Kind::kPresence;
  } else if (!value.empty() && value.front() == '*') {
    m.kind_ = Kind::kSuffix;
    value.remove_prefix(1);
  } else if (!value.empty() && value.back() == '*') {
    m.kind_ = Kind::kPrefix;
    value.remove_suffix(1);
  }
  m.literal_ = ignore_case ? toLowerAscii(value) : std::string(value);
  return m;
}

StringMatcher StringMatcher::of(Kind kind, std::string_view literal, bool ignore_case) {
  StringMatcher m;
  m.kind_ = kind;
  m.ignore_case_ = ignore_case;
  m.literal_ = ignore_case ? toLowerAscii(literal) : std::string(literal);
  return m;
}

bool StringMatcher::matches(std::string_view value) const {
  auto same = [&](std::string_view a) {
    return ignore_case_ ? equalsIgnoreCase(a, literal_) : a == literal_;
  };
  switch (kind_) {
    case Kind::kPresence:
      return !value.empty();
    case Kind::kExact:
      return same(value);
    case Kind::kPrefix:
      return value.size() >= literal_.size() && same(value.substr(0, literal_.size()));
    case Kind::kSuffix:
      return value.size() >= literal_.size() && same(value.substr(value.size() - literal_.size()));
  }
  return false;
}

}  // namespace warren::waypoint
