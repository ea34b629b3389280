#include "common/identity/pem.h"

#include <fmt/format.h>
#include <openssl/pem.h>

#include "common/identity/openssl_errors.h"

namespace warren::identity {

namespace {
constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
// A chain longer than this is not a mesh chain (Istio's is leaf, optional intermediates, root).
constexpr size_t kMaxChainLength = 16;
}  // namespace

Result<std::vector<ossl::X509Ptr>> certificatesFromPem(std::string_view pem) {
  std::vector<ossl::X509Ptr> out;
  size_t pos = 0;
  // Each block is decoded on its own so a bad block is reported by index and nothing after
  // a bad block is silently dropped.
  while (true) {
    size_t begin = pem.find(kBegin, pos);
    if (begin == std::string_view::npos) break;
    size_t end = pem.find(kEnd, begin);
    if (end == std::string_view::npos) {
      return fail(Error::invalid(
          fmt::format("certificate PEM block {} has no \"{}\" line", out.size(), kEnd)));
    }
    if (out.size() == kMaxChainLength) {
      return fail(Error::invalid(
          fmt::format("certificate chain has more than {} certificates", kMaxChainLength)));
    }
    end += kEnd.size();
    std::string_view block = pem.substr(begin, end - begin);
    ossl::Bio bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    if (!bio) return fail(opensslError(ErrorCode::kInternal, "allocating a memory BIO"));
    ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      return fail(opensslError(
          ErrorCode::kInvalidArgument,
          fmt::format("certificate PEM block {} is not a valid certificate", out.size())));
    }
    out.push_back(std::move(cert));
    pos = end;
  }
  if (out.empty()) {
    return fail(
        Error::invalid(fmt::format("no certificate found: expected a \"{}\" PEM block", kBegin)));
  }
  return out;
}

Result<ossl::X509Ptr> certificateFromPem(std::string_view pem) {
  auto certs = certificatesFromPem(pem);
  if (!certs) return fail(std::move(certs).error());
  if (certs->size() != 1) {
    return fail(
        Error::invalid(fmt::format("expected exactly one certificate, found {}", certs->size())));
  }
  return std::move(certs->front());
}

Result<std::string> certificateToPem(X509* cert) {
  if (cert == nullptr) return fail(Error::invalid("certificateToPem: no certificate"));
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "writing a certificate as PEM"));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> certificatesToPem(std::span<const ossl::X509Ptr> certs) {
  std::string out;
  for (const auto& c : certs) {
    auto pem = certificateToPem(c.get());
    if (!pem) return fail(std::move(pem).error());
    out += *pem;
  }
  return out;
}

Result<std::string> certificateToDer(X509* cert) {
  if (cert == nullptr) return fail(Error::invalid("certificateToDer: no certificate"));
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return fail(opensslError(ErrorCode::kInternal, "encoding a certificate as DER"));
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

ossl::X509Ptr shareCertificate(X509* cert) {
  if (cert != nullptr) X509_up_ref(cert);
  return ossl::X509Ptr(cert);
}

}  // namespace warren::identity
