#include "common/identity/spiffe_id.h"

#include <fmt/format.h>

namespace warren::identity {
namespace {

bool isTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool isSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

std::string printable(char c) {
  if (c >= 0x21 && c <= 0x7e) return fmt::format("'{}'", c);
  return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
}

Status checkTrustDomain(std::string_view td) {
  if (td.empty()) return fail(Error::invalid("trust domain is empty"));
  if (td.size() > SpiffeId::kMaxTrustDomainLength) {
    return fail(Error::invalid(fmt::format("trust domain is {} characters long, at most {} allowed",
                                           td.size(), SpiffeId::kMaxTrustDomainLength)));
  }
  for (size_t i = 0; i < td.size(); ++i) {
    if (!isTrustDomainChar(td[i])) {
      return fail(Error::invalid(
          fmt::format("trust domain \"{}\" has {} at position {}; allowed: a-z 0-9 . - _", td,
                      printable(td[i]), i)));
    }
  }
  return ok();
}

Status checkSegment(std::string_view what, std::string_view seg) {
  if (seg.empty()) return fail(Error::invalid(fmt::format("{} is empty", what)));
  if (seg == "." || seg == "..") {
    return fail(Error::invalid(fmt::format("{} must not be \"{}\"", what, seg)));
  }
  if (seg.size() > SpiffeId::kMaxSegmentLength) {
    return fail(Error::invalid(fmt::format("{} is {} characters long, at most {} allowed", what,
                                           seg.size(), SpiffeId::kMaxSegmentLength)));
  }
  for (size_t i = 0; i < seg.size(); ++i) {
    if (!isSegmentChar(seg[i])) {
      return fail(
          Error::invalid(fmt::format("{} \"{}\" has {} at position {}; allowed: "
                                     "A-Z a-z 0-9 . - _",
                                     what, seg, printable(seg[i]), i)));
    }
  }
  return ok();
}

// Parses "<td>/ns/<ns>/sa/<sa>".
Result<SpiffeId> parseBody(std::string_view body) {
  auto slash = body.find('/');
  if (slash == std::string_view::npos) {
    return fail(Error::invalid("missing path: expected <trust-domain>/ns/<namespace>/sa/<sa>"));
  }
  std::string_view td = body.substr(0, slash);
  std::string_view path = body.substr(slash);
  if (td.find(':') != std::string_view::npos) {
    return fail(Error::invalid(fmt::format("trust domain \"{}\" must not carry a port", td)));
  }
  if (td.find('@') != std::string_view::npos) {
    return fail(Error::invalid(fmt::format("trust domain \"{}\" must not carry userinfo", td)));
  }
  WARREN_TRY(checkTrustDomain(td));
  if (!path.starts_with("/ns/")) {
    return fail(Error::invalid(
        fmt::format("path \"{}\" must start with /ns/ (expected /ns/<namespace>/sa/<sa>)", path)));
  }
  std::string_view rest = path.substr(4);
  auto sa_pos = rest.find("/sa/");
  if (sa_pos == std::string_view::npos) {
    return fail(Error::invalid(
        fmt::format("path \"{}\" has no /sa/ segment (expected /ns/<namespace>/sa/<sa>)", path)));
  }
  std::string_view ns = rest.substr(0, sa_pos);
  std::string_view sa = rest.substr(sa_pos + 4);
  if (ns.find('/') != std::string_view::npos) {
    return fail(Error::invalid(
        fmt::format("path \"{}\" has extra segments (expected /ns/<namespace>/sa/<sa>)", path)));
  }
  if (sa.find('/') != std::string_view::npos) {
    return fail(
        Error::invalid(fmt::format("path \"{}\" has extra segments after the service account "
                                   "(expected /ns/<namespace>/sa/<sa>)",
                                   path)));
  }
  return SpiffeId::make(td, ns, sa);
}

}  // namespace

SpiffeId::SpiffeId(std::string td, std::string ns, std::string sa)
    : trust_domain_(std::move(td)), ns_(std::move(ns)), service_account_(std::move(sa)) {
  uri_.reserve(kScheme.size() + trust_domain_.size() + ns_.size() + service_account_.size() + 8);
  uri_.append(kScheme)
      .append(trust_domain_)
      .append("/ns/")
      .append(ns_)
      .append("/sa/")
      .append(service_account_);
}

Result<SpiffeId> SpiffeId::make(std::string_view trust_domain, std::string_view ns,
                                std::string_view service_account) {
  WARREN_TRY(checkTrustDomain(trust_domain));
  WARREN_TRY(checkSegment("namespace", ns));
  WARREN_TRY(checkSegment("service account", service_account));
  SpiffeId id{std::string(trust_domain), std::string(ns), std::string(service_account)};
  if (id.uri_.size() > kMaxUriLength) {
    return fail(Error::invalid(fmt::format("SPIFFE ID is {} bytes long, at most {} allowed",
                                           id.uri_.size(), kMaxUriLength)));
  }
  return id;
}

Result<SpiffeId> SpiffeId::parse(std::string_view uri) {
  auto wrap = [&](Error e) {
    std::string shown(uri.substr(0, 128));
    if (uri.size() > 128) shown += "...";
    return fail(std::move(e).wrap(fmt::format("SPIFFE ID \"{}\"", shown)));
  };
  if (uri.size() > kMaxUriLength) {
    return wrap(Error::invalid(
        fmt::format("{} bytes long, at most {} allowed", uri.size(), kMaxUriLength)));
  }
  if (!uri.starts_with(kScheme)) {
    return wrap(Error::invalid("must start with \"spiffe://\" (lower-case scheme)"));
  }
  auto id = parseBody(uri.substr(kScheme.size()));
  if (!id) return wrap(std::move(id).error());
  return id;
}

Result<SpiffeId> SpiffeId::fromPrincipal(std::string_view principal) {
  if (principal.starts_with(kScheme)) {
    return fail(Error::invalid(fmt::format(
        "principal \"{}\": must not start with \"spiffe://\" (use SpiffeId::parse)", principal)));
  }
  if (principal.size() + kScheme.size() > kMaxUriLength) {
    return fail(Error::invalid(
        fmt::format("principal is {} bytes long, too long for a SPIFFE ID", principal.size())));
  }
  auto id = parseBody(principal);
  if (!id) return fail(std::move(id).error().wrap(fmt::format("principal \"{}\"", principal)));
  return id;
}

}  // namespace warren::identity
