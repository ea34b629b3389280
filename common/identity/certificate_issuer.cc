#include "common/identity/certificate_issuer.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "common/identity/csr.h"
#include "common/identity/openssl_errors.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"

namespace warren::identity {
namespace {

Status addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return fail(
        opensslError(ErrorCode::kInternal, fmt::format("adding extension {}", OBJ_nid2sn(nid))));
  }
  return ok();
}

Status setTime(ASN1_TIME* field, Clock::time_point t) {
  if (ASN1_TIME_set(field, Clock::to_time_t(t)) == nullptr) {
    return fail(opensslError(ErrorCode::kInternal, "setting certificate validity"));
  }
  return ok();
}

}  // namespace

Result<CertificateIssuer> CertificateIssuer::fromPem(std::string_view ca_cert_pem,
                                                     std::string_view ca_key_pem) {
  auto chain = certificatesFromPem(ca_cert_pem);
  if (!chain) return fail(std::move(chain).error().wrap("CA certificate"));
  auto key = privateKeyFromPem(ca_key_pem);
  if (!key) return fail(std::move(key).error().wrap("CA key"));
  X509* signer = chain->front().get();
  if (X509_check_private_key(signer, key->get()) != 1) {
    return fail(opensslError(ErrorCode::kInvalidArgument,
                             "CA key does not match the CA certificate (first in the file)"));
  }
  if (X509_check_ca(signer) <= 0) {
    ERR_clear_error();
    return fail(Error::invalid("CA certificate is not a CA (basicConstraints CA:TRUE missing)"));
  }
  return CertificateIssuer(std::move(*key), std::move(*chain));
}

Result<std::vector<std::string>> CertificateIssuer::issue(std::string_view csr_pem,
                                                          const SpiffeId& id,
                                                          std::chrono::seconds ttl,
                                                          Clock::time_point now) const {
  if (ttl <= std::chrono::seconds::zero()) {
    return fail(
        Error::invalid(fmt::format("certificate TTL must be positive, got {}s", ttl.count())));
  }
  auto csr = csrFromPem(csr_pem);
  if (!csr) return fail(std::move(csr).error());
  X509* signer = chain_.front().get();

  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "allocating a certificate"));
  }
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "random serial"));
  }
  serial[0] &= 0x7f;  // positive
  serial[0] |= 0x01;  // and full length, never zero
  ossl::BigNum bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return fail(opensslError(ErrorCode::kInternal, "setting the serial"));
  }
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(csr->get())) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "setting issuer and key"));
  }
  WARREN_TRY(setTime(X509_getm_notBefore(cert.get()), now - kBackdate));
  WARREN_TRY(setTime(X509_getm_notAfter(cert.get()), now + ttl));
  WARREN_TRY(addExtension(cert.get(), signer, NID_subject_alt_name, "critical,URI:" + id.uri()));
  WARREN_TRY(addExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
  WARREN_TRY(
      addExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  WARREN_TRY(addExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth"));
  WARREN_TRY(addExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), key_.get(), EVP_sha256()) <= 0) {
    return fail(opensslError(ErrorCode::kInternal, "signing the certificate"));
  }
  std::vector<std::string> out;
  auto leaf = certificateToPem(cert.get());
  if (!leaf) return fail(std::move(leaf).error());
  out.push_back(std::move(*leaf));
  for (const auto& c : chain_) {
    auto pem = certificateToPem(c.get());
    if (!pem) return fail(std::move(pem).error());
    out.push_back(std::move(*pem));
  }
  return out;
}

Result<std::string> CertificateIssuer::rootPem() const {
  return certificateToPem(chain_.back().get());
}

}  // namespace warren::identity
