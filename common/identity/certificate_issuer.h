// Signs workload leaves from CSRs: the signing half of the Istio CA API (INTEROP §12), for the
// agent's CA (`--ca-dir` with ca.crt + ca.key, as the lab creates) and for tests.
//
// The identity comes from the caller (the CA authenticated and authorized it, e.g. the
// ImpersonatedIdentity of a pod on the caller's node), not from the CSR: the CSR only
// contributes its public key, after its self-signature is checked. Leaves are what Istio
// issues: empty subject, the SPIFFE URI SAN marked critical, basicConstraints CA:FALSE,
// keyUsage digitalSignature+keyEncipherment, EKU serverAuth+clientAuth, AKI of the signer,
// random 128-bit serial, notBefore backdated a little for clock skew.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/identity/certificate_info.h"
#include "common/identity/spiffe_id.h"
#include "common/openssl_ptr.h"

namespace warren::identity {

class CertificateIssuer {
 public:
  // Tolerance for clocks behind ours (Istio backdates by a minute as well).
  static constexpr std::chrono::seconds kBackdate{60};

  // `ca_cert_pem` may hold a chain: the signing certificate first, then its parents up to
  // the root; they are appended to every issued chain (IstioCertificateResponse order).
  static Result<CertificateIssuer> fromPem(std::string_view ca_cert_pem,
                                           std::string_view ca_key_pem);

  // Signs `csr_pem`'s public key for `id`, valid [now - kBackdate, now + ttl). Returns the
  // chain as PEM strings, leaf first, root last (one certificate per element).
  Result<std::vector<std::string>> issue(std::string_view csr_pem, const SpiffeId& id,
                                         std::chrono::seconds ttl, Clock::time_point now) const;

  X509* caCertificate() const { return chain_.front().get(); }
  // PEM of the root (last of the chain): the mesh trust bundle.
  Result<std::string> rootPem() const;

 private:
  CertificateIssuer(ossl::PKey key, std::vector<ossl::X509Ptr> chain)
      : key_(std::move(key)), chain_(std::move(chain)) {}

  ossl::PKey key_;
  std::vector<ossl::X509Ptr> chain_;  // signer first
};

}  // namespace warren::identity
