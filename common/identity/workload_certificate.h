// One workload's credentials as ztunnel holds them: private key, leaf certificate, the
// intermediates between leaf and root, and the mesh roots it trusts. TLS contexts
// (common/tls/tls_context.h) are built from it; the certificate manager refreshes it.
//
// Refresh policy (INTEROP §12, Istio's ztunnel): renew at half of the certificate's lifetime;
// a still-valid certificate is kept while renewal fails. The times are computed by pure
// functions of the certificate and an injected `now`, so schedules are table-testable.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/identity/certificate_info.h"
#include "common/identity/spiffe_id.h"
#include "common/openssl_ptr.h"

namespace warren::identity {

class WorkloadCertificate {
 public:
  // Checks that `key` matches `leaf` and that the leaf carries exactly one SPIFFE identity.
  // `intermediates` may be empty (leaf signed by a root); `roots` may not.
  static Result<WorkloadCertificate> create(ossl::PKey key, ossl::X509Ptr leaf,
                                            std::vector<ossl::X509Ptr> intermediates,
                                            std::vector<ossl::X509Ptr> roots);

  // From PEM text: the key, the chain (leaf first, then intermediates; a trailing
  // self-issued root in the chain is dropped since the peer has it) and the roots.
  static Result<WorkloadCertificate> fromPem(std::string_view key_pem, std::string_view chain_pem,
                                             std::string_view roots_pem);

  // From an IstioCertificateResponse.cert_chain (one PEM per element, leaf first, root last;
  // INTEROP §12). With `roots_pem` empty the last element is taken as the only root; otherwise
  // `roots_pem` is the trust bundle and a trailing self-issued element is dropped.
  static Result<WorkloadCertificate> fromCaResponse(ossl::PKey key,
                                                    std::span<const std::string> cert_chain,
                                                    std::string_view roots_pem = {});

  WorkloadCertificate(WorkloadCertificate&&) noexcept = default;
  WorkloadCertificate& operator=(WorkloadCertificate&&) noexcept = default;

  EVP_PKEY* key() const { return key_.get(); }
  X509* leaf() const { return leaf_.get(); }
  std::span<const ossl::X509Ptr> intermediates() const { return intermediates_; }
  std::span<const ossl::X509Ptr> roots() const { return roots_; }
  const SpiffeId& identity() const { return identity_; }
  const CertificateInfo& info() const { return info_; }
  Clock::time_point notBefore() const { return info_.not_before; }
  Clock::time_point notAfter() const { return info_.not_after; }

  // The leaf chains to a root at `now` and carries identity(); for the CA client to check a
  // freshly issued certificate, and for `expected` it must equal identity().
  Status verify(Clock::time_point now) const;
  Status expectIdentity(const SpiffeId& expected) const;

  // Renewal time: notBefore + (notAfter - notBefore) / 2.
  static Clock::time_point refreshTime(Clock::time_point not_before, Clock::time_point not_after);
  Clock::time_point refreshAt() const { return refreshTime(notBefore(), notAfter()); }
  // How long until renewal is due (zero when already due).
  Clock::duration refreshDelay(Clock::time_point now) const;
  bool needsRefresh(Clock::time_point now) const { return now >= refreshAt(); }
  // Usable for new handshakes: notBefore <= now < notAfter.
  bool isValidAt(Clock::time_point now) const;

  // Leaf then intermediates, PEM (what the peer gets); the key is never exported here.
  Result<std::string> chainPem() const;

 private:
  WorkloadCertificate(ossl::PKey key, ossl::X509Ptr leaf, std::vector<ossl::X509Ptr> intermediates,
                      std::vector<ossl::X509Ptr> roots, SpiffeId identity, CertificateInfo info);

  ossl::PKey key_;
  ossl::X509Ptr leaf_;
  std::vector<ossl::X509Ptr> intermediates_;
  std::vector<ossl::X509Ptr> roots_;
  SpiffeId identity_;
  CertificateInfo info_;
};

}  // namespace warren::identity
