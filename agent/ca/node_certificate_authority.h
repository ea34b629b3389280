// The node agent's CA: signs workload certificates only for identities of pods scheduled on
// this node (spec.nodeName == --node), as istiod does for a node proxy's impersonation
// requests. The decision (`authorizeIdentity`) is a pure function of the cluster snapshot;
// signing is common/identity's CertificateIssuer (leaf = the CSR's key, SPIFFE URI SAN
// critical, empty subject), here restricted to EC P-256 CSR keys.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/cluster_snapshot.h"
#include "common/identity/certificate_issuer.h"
#include "common/identity/spiffe_id.h"

namespace warren::agent {

inline constexpr std::chrono::seconds kDefaultCertificateTtl{24 * 3600};
// Longest TTL a caller may ask for (Istio's default max workload cert TTL is 90 days).
inline constexpr std::chrono::seconds kMaxCertificateTtl{90 * 24 * 3600};

struct CertificateRequest {
  std::string csr_pem;
  std::string impersonated_identity;  // metadata["ImpersonatedIdentity"]
  int64_t validity_seconds = 0;       // 0 = default
};

// Is `id` the identity of a pod on `node` in `trust_domain`? An error says why not.
Status authorizeIdentity(const ClusterSnapshot& snap, const std::string& node,
                         const std::string& trust_domain, const identity::SpiffeId& id);

class NodeCertificateAuthority {
 public:
  // Loads `<ca_dir>/ca.crt` (may be a chain, signer first) and `<ca_dir>/ca.key`.
  static Result<NodeCertificateAuthority> load(const std::string& ca_dir, std::string node,
                                               std::string trust_domain);
  static Result<NodeCertificateAuthority> fromPem(const std::string& cert_pem,
                                                  const std::string& key_pem, std::string node,
                                                  std::string trust_domain);

  // Error codes: kInvalidArgument (bad CSR, identity, TTL), kPermissionDenied (not on node).
  Result<std::vector<std::string>> sign(const CertificateRequest& req, const ClusterSnapshot& snap,
                                        std::chrono::system_clock::time_point now) const;

  const std::string& node() const { return node_; }

 private:
  NodeCertificateAuthority(identity::CertificateIssuer issuer, std::string node, std::string td)
      : issuer_(std::move(issuer)), node_(std::move(node)), trust_domain_(std::move(td)) {}

  identity::CertificateIssuer issuer_;
  std::string node_;
  std::string trust_domain_;
};

}  // namespace warren::agent
