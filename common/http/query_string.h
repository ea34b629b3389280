// Pure helpers for request targets: splitting path from query and percent-decoding.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::http {

// "a=1&&b&c=x%20y" -> {{"a","1"}, {"b",""}, {"c","x%20y"}}: raw (undecoded) pairs in order,
// empty pieces skipped.
std::vector<std::pair<std::string_view, std::string_view>> splitQuery(std::string_view query);

// Decodes %XX escapes (and '+' as space when `plus_is_space`, as in query strings).
// nullopt when an escape is malformed ("%4", "%zz").
std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space);

// "a=1&b=x%20y&flag" -> {a:1, b:"x y", flag:""}. nullopt on a malformed escape.
std::optional<std::map<std::string, std::string>> parseQuery(std::string_view query);

struct RequestTarget {
  std::string path;
  std::map<std::string, std::string> query;
};

// Splits an origin-form target ("/api/v1/log?level=debug#frag"). nullopt when the target does
// not start with '/' or an escape is malformed.
std::optional<RequestTarget> parseTarget(std::string_view target);

}  // namespace warren::http
