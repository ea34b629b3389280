#include "ztunnel/state/identity.h"

#include <vector>

namespace warren::ztunnel {

Result<SpiffeIdentity> SpiffeIdentity::parse(std::string_view uri) {
  constexpr std::string_view kScheme = "spiffe://";
  auto bad = [&](const char* why) {
    return fail(Error::invalid("invalid SPIFFE identity '" + std::string(uri) + "': " + why));
  };
  if (!uri.starts_with(kScheme)) return bad("must start with spiffe://");
  std::string_view rest = uri.substr(kScheme.size());
  std::vector<std::string_view> parts;
  while (true) {
    auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() != 5 || parts[1] != "ns" || parts[3] != "sa") {
    return bad("expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>");
  }
  if (parts[0].empty() || parts[2].empty() || parts[4].empty()) return bad("empty segment");
  return SpiffeIdentity{std::string(parts[0]), std::string(parts[2]), std::string(parts[4])};
}

std::string SpiffeIdentity::toString() const { return "spiffe://" + principal(); }

std::string SpiffeIdentity::principal() const {
  return trust_domain + "/ns/" + namespace_ + "/sa/" + service_account;
}

}  // namespace warren::ztunnel
