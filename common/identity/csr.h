// Certificate signing requests for a SPIFFE identity, as ztunnel sends them to the CA
// (IstioCertificateRequest.csr, INTEROP §12): empty subject, one URI SAN, signed with the
// workload key (ECDSA with SHA-256).
//
// The SAN extension is marked critical because the subject is empty (RFC 5280 §4.2.1.6);
// some CAs reject the CSR otherwise (istio/istio#56191, AWS PCA via istio-csr).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/openssl_ptr.h"

namespace warren::identity {

Result<ossl::X509Req> createCsr(EVP_PKEY* key, const SpiffeId& id);
// The PEM form ("-----BEGIN CERTIFICATE REQUEST-----").
Result<std::string> createCsrPem(EVP_PKEY* key, const SpiffeId& id);

// For the CA side: parses a PEM CSR and checks its self-signature.
Result<ossl::X509Req> csrFromPem(std::string_view pem);

// What a CSR asks for: every URI SAN, and those that are SPIFFE IDs.
struct CsrRequest {
  std::vector<std::string> uri_sans;
  std::vector<SpiffeId> identities;
  bool san_critical = false;
};
Result<CsrRequest> inspectCsr(X509_REQ* csr);

}  // namespace warren::identity
