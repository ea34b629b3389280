// The pure pieces of Gateway API filters, each as the spec words it (httproute_types.go):
// header modification, prefix replacement, the redirect Location, weighted choice, mirror
// sampling. route_table.cc strings them together; the tests check each on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "waypoint/request/header_map.h"
#include "waypoint/route/route_model.h"

namespace warren::waypoint {

// HTTPHeaderFilter: set overwrites, add appends another value, remove drops every value; names
// are case-insensitive. Applied in that order (Envoy applies removals after additions, but the
// CRD forbids naming a header twice in one filter, so the order cannot be observed).
void applyHeaderModifier(HeaderMap& headers, const HeaderModifier& modifier);

// HTTPPathModifier ReplacePrefixMatch: `matched_prefix` (the rule's PathPrefix value) is replaced
// by `replacement` on whole path elements; trailing slashes of both are ignored and an empty
// result becomes "/" (the spec's table: /foo/bar,/foo,/xyz -> /xyz/bar; /foo/,/foo,"" -> /).
std::string replacePrefixMatch(std::string_view path, std::string_view matched_prefix,
                               std::string_view replacement);

// The path a PathModifier produces for `path` (ReplaceFullPath or ReplacePrefixMatch).
std::string modifyPath(std::string_view path, const PathModifier& modifier,
                       std::string_view matched_prefix);

// The Location of a RequestRedirect (HTTPRequestRedirectFilter):
//   scheme   filter.scheme, else the request's
//   host     filter.hostname, else the request's Host without port
//   port     filter.port; else, when filter.scheme is set, its well-known port (http 80,
//            https 443); else the listener port (in mesh mode: the Service port the client
//            dialled). Omitted for http:80 and https:443 ("Implementations SHOULD NOT add the
//            port number in the 'Location' header" in those cases).
//   path     modified per filter.path (matched_prefix for ReplacePrefixMatch), else the
//            request's; the query is kept
std::string redirectLocation(const RequestRedirect& redirect, std::string_view request_scheme,
                             std::string_view request_host, uint16_t listener_port,
                             std::string_view path, std::string_view query,
                             std::string_view matched_prefix);

// Weighted backend choice. `point` must be in [0, weightTotal(weights)); the backend whose
// cumulative range holds it is chosen, so a weight-0 backend is never chosen and the split is
// exact over the range (70/30 -> points 0..69 and 70..99).
uint64_t weightTotal(std::span<const uint32_t> weights);
size_t pickWeighted(std::span<const uint32_t> weights, uint64_t point);

// RequestMirror sampling: `point` in [0, fraction.denominator); mirrored when below the
// numerator (a numerator >= denominator always mirrors, 0 never).
bool mirrorSampled(const Fraction& fraction, uint64_t point);

// The randomness routing draws from, injected so decisions are reproducible in tests.
class RouteRandom {
 public:
  virtual ~RouteRandom() = default;
  // Uniform in [0, bound); bound > 0.
  virtual uint64_t below(uint64_t bound) = 0;
};

}  // namespace warren::waypoint
