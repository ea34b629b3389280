// A workload identity in Istio's SPIFFE form: spiffe://<trust-domain>/ns/<namespace>/sa/<sa>.
// It travels as the URI SAN of every mesh certificate (INTEROP §2) and, without the scheme, as
// an authorization "principal" (<trust-domain>/ns/<namespace>/sa/<sa>, INTEROP §11).
//
// Parsing is strict, following the SPIFFE ID spec (SPIFFE-ID.md §2) narrowed to Istio's shape:
//   - scheme exactly "spiffe://" (lower case), no userinfo, port, query or fragment;
//   - trust domain: 1..255 characters of [a-z0-9.-_];
//   - path exactly /ns/<namespace>/sa/<service account>, each segment 1..253 characters of
//     [A-Za-z0-9.-_] and not "." or "..";
//   - whole URI at most 2048 bytes.
// Errors name the offending part and position.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::identity {

class SpiffeId {
 public:
  static constexpr std::string_view kScheme = "spiffe://";
  static constexpr size_t kMaxUriLength = 2048;
  static constexpr size_t kMaxTrustDomainLength = 255;
  static constexpr size_t kMaxSegmentLength = 253;

  // "spiffe://cluster.local/ns/default/sa/sleep".
  static Result<SpiffeId> parse(std::string_view uri);
  // "cluster.local/ns/default/sa/sleep" (an Istio principal).
  static Result<SpiffeId> fromPrincipal(std::string_view principal);
  static Result<SpiffeId> make(std::string_view trust_domain, std::string_view ns,
                               std::string_view service_account);

  const std::string& trustDomain() const { return trust_domain_; }
  const std::string& ns() const { return ns_; }
  const std::string& serviceAccount() const { return service_account_; }
  // The full URI, as it appears in the certificate SAN.
  const std::string& uri() const { return uri_; }
  // The URI without "spiffe://".
  std::string_view principal() const { return std::string_view(uri_).substr(kScheme.size()); }

  bool operator==(const SpiffeId& other) const { return uri_ == other.uri_; }
  std::strong_ordering operator<=>(const SpiffeId& other) const { return uri_ <=> other.uri_; }

 private:
  SpiffeId(std::string td, std::string ns, std::string sa);

  std::string trust_domain_;
  std::string ns_;
  std::string service_account_;
  std::string uri_;
};

}  // namespace warren::identity
