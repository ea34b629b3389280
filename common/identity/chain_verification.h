// Peer certificate checks shared by the TLS engine (client and server side), the CA client
// (the returned leaf must carry the requested identity, INTEROP §12) and tests.
//
// Deciding is apart from doing: checkIdentity is a pure function over already-decoded
// identities; verifyCertificateChain does the X.509 path validation and then calls it.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/identity/certificate_info.h"
#include "common/identity/spiffe_id.h"
#include "common/openssl_ptr.h"

namespace warren::identity {

// What the peer's identity must satisfy. Empty fields do not constrain.
struct IdentityPolicy {
  // Client side: the destination's expected SANs (workload, service SANs, waypoint; INTEROP
  // §2). The peer must present at least one of them.
  std::vector<SpiffeId> expected;
  // Server side: the peer's trust domain must equal ours (ztunnel's TrustDomainVerifier).
  std::string trust_domain;
};

// Picks the identity that satisfies `policy` among those the peer presented: the first
// expected one it holds, else (no expectation) its first identity. Errors are kPermissionDenied
// and say what was presented and what was wanted.
Result<SpiffeId> checkIdentity(std::span<const SpiffeId> presented, const IdentityPolicy& policy);

// An X509_STORE holding `roots` as trust anchors (partial chains are not trusted: the path
// must end at one of the roots).
Result<ossl::X509Store> makeRootStore(std::span<const ossl::X509Ptr> roots);

// X.509 path validation of leaf + intermediates up to one of `roots` at time `now`, then
// checkIdentity on the leaf's SPIFFE URI SANs. Returns the matched identity.
Result<SpiffeId> verifyCertificateChain(X509* leaf, std::span<const ossl::X509Ptr> intermediates,
                                        std::span<const ossl::X509Ptr> roots, Clock::time_point now,
                                        const IdentityPolicy& policy);

}  // namespace warren::identity
