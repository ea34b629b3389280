#include "common/identity/certificate_info.h"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>

#include <ctime>

#include "common/identity/openssl_errors.h"
#include "common/openssl_ptr.h"

namespace warren::identity {
namespace {

std::string nameToString(const X509_NAME* name) {
  if (name == nullptr) return "";
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

std::string rfc3339(Clock::time_point t) {
  time_t secs = Clock::to_time_t(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Clock::time_point> asn1TimeToTimePoint(const ASN1_TIME* t) {
  if (t == nullptr) return fail(Error::invalid("certificate time is missing"));
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    return fail(opensslError(ErrorCode::kInvalidArgument, "certificate time is malformed"));
  }
  time_t secs = timegm(&tm);
  return Clock::from_time_t(secs);
}

std::vector<std::string> uriSansOf(const GENERAL_NAMES* names) {
  std::vector<std::string> out;
  if (names == nullptr) return out;
  int n = sk_GENERAL_NAME_num(names);
  for (int i = 0; i < n; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = gn->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return out;
}

std::vector<SpiffeId> spiffeIdsOf(X509* cert) {
  std::vector<SpiffeId> out;
  ossl::GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (const auto& uri : uriSansOf(names.get())) {
    if (auto id = SpiffeId::parse(uri)) out.push_back(std::move(*id));
  }
  return out;
}

Result<CertificateInfo> inspectCertificate(X509* cert) {
  if (cert == nullptr) return fail(Error::invalid("inspectCertificate: no certificate"));
  CertificateInfo info;
  ossl::BigNum serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!serial) return fail(opensslError(ErrorCode::kInvalidArgument, "certificate serial"));
  char* hex = BN_bn2hex(serial.get());
  if (hex == nullptr) return fail(opensslError(ErrorCode::kInternal, "certificate serial"));
  info.serial_hex = hex;
  OPENSSL_free(hex);

  auto nb = asn1TimeToTimePoint(X509_get0_notBefore(cert));
  if (!nb) return fail(std::move(nb).error().wrap("notBefore"));
  auto na = asn1TimeToTimePoint(X509_get0_notAfter(cert));
  if (!na) return fail(std::move(na).error().wrap("notAfter"));
  info.not_before = *nb;
  info.not_after = *na;
  info.subject = nameToString(X509_get_subject_name(cert));
  info.issuer = nameToString(X509_get_issuer_name(cert));

  ossl::GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  info.uri_sans = uriSansOf(names.get());
  for (const auto& uri : info.uri_sans) {
    if (auto id = SpiffeId::parse(uri)) info.identities.push_back(std::move(*id));
  }
  // X509_check_ca caches extensions; it returns >0 for any kind of CA.
  info.is_ca = X509_check_ca(cert) > 0;
  info.self_issued = X509_check_issued(cert, cert) == X509_V_OK;
  ERR_clear_error();
  return info;
}

}  // namespace warren::identity
