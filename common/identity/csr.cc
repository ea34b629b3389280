#include "common/identity/csr.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/identity/certificate_info.h"
#include "common/identity/openssl_errors.h"

namespace warren::identity {

Result<ossl::X509Req> createCsr(EVP_PKEY* key, const SpiffeId& id) {
  if (key == nullptr) return fail(Error::invalid("createCsr: no key"));
  ossl::X509Req req(X509_REQ_new());
  if (!req) return fail(opensslError(ErrorCode::kInternal, "allocating a CSR"));
  if (X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "setting the CSR key"));
  }
  // Subject stays empty: the identity lives only in the SAN.
  ossl::GeneralNames names(GENERAL_NAMES_new());
  GENERAL_NAME* gn = GENERAL_NAME_new();
  ASN1_IA5STRING* uri = ASN1_IA5STRING_new();
  if (!names || gn == nullptr || uri == nullptr ||
      ASN1_STRING_set(uri, id.uri().data(), static_cast<int>(id.uri().size())) != 1) {
    GENERAL_NAME_free(gn);
    ASN1_IA5STRING_free(uri);
    return fail(opensslError(ErrorCode::kInternal, "building the CSR SAN"));
  }
  GENERAL_NAME_set0_value(gn, GEN_URI, uri);
  if (sk_GENERAL_NAME_push(names.get(), gn) == 0) {
    GENERAL_NAME_free(gn);
    return fail(opensslError(ErrorCode::kInternal, "building the CSR SAN"));
  }
  ossl::X509Extension ext(X509V3_EXT_i2d(NID_subject_alt_name, /*crit=*/1, names.get()));
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  if (!ext || exts == nullptr || sk_X509_EXTENSION_push(exts, ext.get()) == 0) {
    sk_X509_EXTENSION_free(exts);
    return fail(opensslError(ErrorCode::kInternal, "building the CSR extensions"));
  }
  int added = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_free(exts);  // the stack only; `ext` is freed by its owner
  if (added != 1) return fail(opensslError(ErrorCode::kInternal, "adding the CSR extensions"));
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return fail(opensslError(ErrorCode::kInternal, "signing the CSR"));
  }
  return req;
}

Result<std::string> createCsrPem(EVP_PKEY* key, const SpiffeId& id) {
  auto req = createCsr(key, id);
  if (!req) return fail(std::move(req).error());
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req->get()) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "writing the CSR as PEM"));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<ossl::X509Req> csrFromPem(std::string_view pem) {
  if (pem.empty()) return fail(Error::invalid("CSR PEM is empty"));
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(opensslError(ErrorCode::kInternal, "allocating a memory BIO"));
  ossl::X509Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return fail(opensslError(ErrorCode::kInvalidArgument, "parsing CSR PEM"));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr || X509_REQ_verify(req.get(), pub) != 1) {
    return fail(opensslError(ErrorCode::kInvalidArgument,
                             "CSR signature does not verify with its own public key"));
  }
  return req;
}

Result<CsrRequest> inspectCsr(X509_REQ* csr) {
  if (csr == nullptr) return fail(Error::invalid("inspectCsr: no CSR"));
  CsrRequest out;
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(csr);
  if (exts != nullptr) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
      out.san_critical = X509_EXTENSION_get_critical(ext) == 1;
      ossl::GeneralNames names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (!names) {
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        return fail(opensslError(ErrorCode::kInvalidArgument, "CSR SAN extension is malformed"));
      }
      for (auto& uri : uriSansOf(names.get())) out.uri_sans.push_back(std::move(uri));
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  ERR_clear_error();
  for (const auto& uri : out.uri_sans) {
    if (auto id = SpiffeId::parse(uri)) out.identities.push_back(std::move(*id));
  }
  return out;
}

}  // namespace warren::identity
