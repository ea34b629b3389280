#include "common/identity/workload_certificate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/err.h>

#include "common/identity/chain_verification.h"
#include "common/identity/openssl_errors.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"

namespace warren::identity {
namespace {

nlohmann::json certJson(X509* cert) {
  nlohmann::json j;
  auto pem = certificateToPem(cert);
  j["pem"] = pem ? *pem : "";
  if (auto info = inspectCertificate(cert)) {
    j["serialNumber"] = info->serial_hex;
    j["validFrom"] = rfc3339(info->not_before);
    j["expirationTime"] = rfc3339(info->not_after);
  }
  return j;
}

bool selfIssued(X509* cert) {
  bool yes = X509_check_issued(cert, cert) == X509_V_OK;
  ERR_clear_error();
  return yes;
}

}  // namespace

WorkloadCertificate::WorkloadCertificate(ossl::PKey key, ossl::X509Ptr leaf,
                                         std::vector<ossl::X509Ptr> intermediates,
                                         std::vector<ossl::X509Ptr> roots, SpiffeId identity,
                                         CertificateInfo info)
    : key_(std::move(key)),
      leaf_(std::move(leaf)),
      intermediates_(std::move(intermediates)),
      roots_(std::move(roots)),
      identity_(std::move(identity)),
      info_(std::move(info)) {}

Result<WorkloadCertificate> WorkloadCertificate::create(ossl::PKey key, ossl::X509Ptr leaf,
                                                        std::vector<ossl::X509Ptr> intermediates,
                                                        std::vector<ossl::X509Ptr> roots) {
  if (!key) return fail(Error::invalid("workload certificate: no private key"));
  if (!leaf) return fail(Error::invalid("workload certificate: no leaf certificate"));
  if (roots.empty()) return fail(Error::invalid("workload certificate: no trust roots"));
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    return fail(opensslError(ErrorCode::kInvalidArgument,
                             "workload certificate: the private key does not match the leaf"));
  }
  auto info = inspectCertificate(leaf.get());
  if (!info) return fail(std::move(info).error().wrap("workload certificate"));
  if (info->identities.size() != 1) {
    return fail(Error::invalid(fmt::format(
        "workload certificate: the leaf must carry exactly one SPIFFE URI SAN, it has {} "
        "(URI SANs: [{}])",
        info->identities.size(), fmt::join(info->uri_sans, ", "))));
  }
  SpiffeId id = info->identities.front();
  return WorkloadCertificate(std::move(key), std::move(leaf), std::move(intermediates),
                             std::move(roots), std::move(id), std::move(*info));
}

Result<WorkloadCertificate> WorkloadCertificate::fromPem(std::string_view key_pem,
                                                         std::string_view chain_pem,
                                                         std::string_view roots_pem) {
  auto key = privateKeyFromPem(key_pem);
  if (!key) return fail(std::move(key).error().wrap("workload key"));
  auto chain = certificatesFromPem(chain_pem);
  if (!chain) return fail(std::move(chain).error().wrap("workload certificate chain"));
  auto roots = certificatesFromPem(roots_pem);
  if (!roots) return fail(std::move(roots).error().wrap("trust roots"));
  ossl::X509Ptr leaf = std::move(chain->front());
  std::vector<ossl::X509Ptr> intermediates;
  for (size_t i = 1; i < chain->size(); ++i) {
    if (i + 1 == chain->size() && selfIssued((*chain)[i].get())) break;
    intermediates.push_back(std::move((*chain)[i]));
  }
  return create(std::move(*key), std::move(leaf), std::move(intermediates), std::move(*roots));
}

Result<WorkloadCertificate> WorkloadCertificate::fromCaResponse(
    ossl::PKey key, std::span<const std::string> cert_chain, std::string_view roots_pem) {
  if (cert_chain.empty()) return fail(Error::invalid("CA response: empty cert_chain"));
  std::vector<ossl::X509Ptr> certs;
  for (size_t i = 0; i < cert_chain.size(); ++i) {
    auto c = certificateFromPem(cert_chain[i]);
    if (!c) return fail(std::move(c).error().wrap(fmt::format("CA response: cert_chain[{}]", i)));
    certs.push_back(std::move(*c));
  }
  std::vector<ossl::X509Ptr> roots;
  if (roots_pem.empty()) {
    if (certs.size() < 2) {
      return fail(
          Error::invalid("CA response: cert_chain has only the leaf and no root, and no "
                         "trust roots were configured"));
    }
    roots.push_back(std::move(certs.back()));
    certs.pop_back();
  } else {
    auto r = certificatesFromPem(roots_pem);
    if (!r) return fail(std::move(r).error().wrap("trust roots"));
    roots = std::move(*r);
    if (certs.size() >= 2 && selfIssued(certs.back().get())) certs.pop_back();
  }
  ossl::X509Ptr leaf = std::move(certs.front());
  std::vector<ossl::X509Ptr> intermediates;
  for (size_t i = 1; i < certs.size(); ++i) intermediates.push_back(std::move(certs[i]));
  return create(std::move(key), std::move(leaf), std::move(intermediates), std::move(roots));
}

Status WorkloadCertificate::verify(Clock::time_point now) const {
  IdentityPolicy policy{.expected = {identity_}, .trust_domain = {}};
  auto r = verifyCertificateChain(leaf_.get(), intermediates_, roots_, now, policy);
  if (!r) return fail(std::move(r).error().wrap("workload certificate " + identity_.uri()));
  return ok();
}

Status WorkloadCertificate::expectIdentity(const SpiffeId& expected) const {
  if (identity_ == expected) return ok();
  return fail(Error(
      ErrorCode::kPermissionDenied,
      fmt::format("issued certificate is for {}, requested {}", identity_.uri(), expected.uri())));
}

Clock::time_point WorkloadCertificate::refreshTime(Clock::time_point not_before,
                                                   Clock::time_point not_after) {
  if (not_after <= not_before) return not_before;
  return not_before + (not_after - not_before) / 2;
}

Clock::duration WorkloadCertificate::refreshDelay(Clock::time_point now) const {
  auto at = refreshAt();
  return now >= at ? Clock::duration::zero() : at - now;
}

bool WorkloadCertificate::isValidAt(Clock::time_point now) const {
  return now >= notBefore() && now < notAfter();
}

nlohmann::json WorkloadCertificate::toJson() const {
  nlohmann::json j;
  j["identity"] = identity_.uri();
  j["refreshAt"] = rfc3339(refreshAt());
  j["certChain"] = nlohmann::json::array();
  j["certChain"].push_back(certJson(leaf_.get()));
  for (const auto& c : intermediates_) j["certChain"].push_back(certJson(c.get()));
  j["rootCerts"] = nlohmann::json::array();
  for (const auto& c : roots_) j["rootCerts"].push_back(certJson(c.get()));
  return j;
}

Result<std::string> WorkloadCertificate::chainPem() const {
  auto pem = certificateToPem(leaf_.get());
  if (!pem) return pem;
  auto rest = certificatesToPem(intermediates_);
  if (!rest) return rest;
  return *pem + *rest;
}

}  // namespace warren::identity
