#include "waypoint/route/route_filters.h"

#include <fmt/format.h>

namespace warren::waypoint {
namespace {

std::string_view stripTrailingSlash(std::string_view p) {
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  return p;
}

uint16_t wellKnownPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

void applyHeaderModifier(HeaderMap& headers, const HeaderModifier& modifier) {
  for (const auto& h : modifier.set) headers.set(h.name, h.value);
  for (const auto& h : modifier.add) headers.add(h.name, h.value);
  for (const auto& name : modifier.remove) headers.remove(name);
}

std::string replacePrefixMatch(std::string_view path, std::string_view matched_prefix,
                               std::string_view replacement) {
  std::string_view prefix = stripTrailingSlash(matched_prefix);
  std::string_view rest = path.size() >= prefix.size() ? path.substr(prefix.size()) : "";
  std::string out(stripTrailingSlash(replacement));
  out.append(rest);
  if (out.empty()) out.push_back('/');
  return out;
}

std::string modifyPath(std::string_view path, const PathModifier& modifier,
                       std::string_view matched_prefix) {
  if (modifier.type == PathModifierType::kReplaceFullPath) return modifier.value;
  return replacePrefixMatch(path, matched_prefix, modifier.value);
}

std::string redirectLocation(const RequestRedirect& redirect, std::string_view request_scheme,
                             std::string_view request_host, uint16_t listener_port,
                             std::string_view path, std::string_view query,
                             std::string_view matched_prefix) {
  std::string scheme = redirect.scheme ? *redirect.scheme : std::string(request_scheme);
  std::string host = redirect.hostname ? *redirect.hostname : std::string(request_host);
  uint16_t port = redirect.port     ? *redirect.port
                  : redirect.scheme ? wellKnownPort(*redirect.scheme)
                                    : listener_port;
  std::string new_path =
      redirect.path ? modifyPath(path, *redirect.path, matched_prefix) : std::string(path);
  std::string out = scheme + "://";
  if (host.find(':') != std::string::npos) {
    out += "[" + host + "]";  // an IPv6 literal
  } else {
    out += host;
  }
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port && port != 0) out += fmt::format(":{}", port);
  out += new_path;
  if (!query.empty()) {
    out.push_back('?');
    out.append(query);
  }
  return out;
}

uint64_t weightTotal(std::span<const uint32_t> weights) {
  uint64_t total = 0;
  for (uint32_t w : weights) total += w;
  return total;
}

size_t pickWeighted(std::span<const uint32_t> weights, uint64_t point) {
  uint64_t upto = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    upto += weights[i];
    if (point < upto) return i;
  }
  // point out of range: the last backend with a weight (callers never pass one).
  for (size_t i = weights.size(); i-- > 0;) {
    if (weights[i] > 0) return i;
  }
  return 0;
}

bool mirrorSampled(const Fraction& fraction, uint64_t point) {
  if (fraction.numerator >= fraction.denominator) return true;
  return point < fraction.numerator;
}

}  // namespace warren::waypoint
