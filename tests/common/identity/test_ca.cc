#include "tests/common/identity/test_ca.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "common/identity/certificate_info.h"
#include "common/identity/csr.h"
#include "common/identity/openssl_errors.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"

#define TESTCA_CHECK(cond)                                                                \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "TestCa: %s failed at %s:%d: %s\n", #cond, __FILE__, __LINE__, \
                   ::warren::identity::drainOpensslErrors().c_str());                     \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace warren::identity::testing {
namespace {

void setSerial(X509* cert) {
  unsigned char bytes[16];
  TESTCA_CHECK(RAND_bytes(bytes, sizeof(bytes)) == 1);
  bytes[0] &= 0x7f;  // positive
  ossl::BigNum bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  TESTCA_CHECK(bn);
  TESTCA_CHECK(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr);
}

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  TESTCA_CHECK(ext);
  TESTCA_CHECK(X509_add_ext(cert, ext.get(), -1) == 1);
}

ossl::X509Ptr makeCaCert(EVP_PKEY* key, const std::string& cn, X509* issuer_cert,
                         EVP_PKEY* issuer_key) {
  ossl::X509Ptr cert(X509_new());
  TESTCA_CHECK(cert);
  TESTCA_CHECK(X509_set_version(cert.get(), 2) == 1);
  setSerial(cert.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  TESTCA_CHECK(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                          reinterpret_cast<const unsigned char*>("warren-test"), -1,
                                          -1, 0) == 1);
  TESTCA_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                          reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                          -1, 0) == 1);
  X509* issuer = issuer_cert ? issuer_cert : cert.get();
  TESTCA_CHECK(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) == 1);
  TESTCA_CHECK(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr);
  TESTCA_CHECK(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400) != nullptr);
  TESTCA_CHECK(X509_set_pubkey(cert.get(), key) == 1);
  addExt(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
  addExt(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  addExt(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (issuer_cert) addExt(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  TESTCA_CHECK(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return cert;
}

}  // namespace

TestCa::TestCa(ossl::PKey key, ossl::X509Ptr cert, ossl::X509Ptr root,
               std::vector<ossl::X509Ptr> up)
    : key_(std::move(key)),
      cert_(std::move(cert)),
      root_(std::move(root)),
      parents_(std::move(up)) {}

TestCa TestCa::root(const std::string& common_name) {
  auto key = generateEcP256Key();
  TESTCA_CHECK(key.has_value());
  ossl::X509Ptr cert = makeCaCert(key->get(), common_name, nullptr, nullptr);
  ossl::X509Ptr root = shareCertificate(cert.get());
  return TestCa(std::move(*key), std::move(cert), std::move(root), {});
}

TestCa TestCa::intermediate(const std::string& common_name) const {
  auto key = generateEcP256Key();
  TESTCA_CHECK(key.has_value());
  ossl::X509Ptr cert = makeCaCert(key->get(), common_name, cert_.get(), key_.get());
  std::vector<ossl::X509Ptr> up;
  if (cert_.get() != root_.get()) up.push_back(shareCertificate(cert_.get()));
  for (const auto& p : parents_) up.push_back(shareCertificate(p.get()));
  return TestCa(std::move(*key), std::move(cert), shareCertificate(root_.get()), std::move(up));
}

std::string TestCa::certPem() const {
  auto pem = certificateToPem(cert_.get());
  TESTCA_CHECK(pem.has_value());
  return *pem;
}

std::string TestCa::rootPem() const {
  auto pem = certificateToPem(root_.get());
  TESTCA_CHECK(pem.has_value());
  return *pem;
}

std::vector<ossl::X509Ptr> TestCa::intermediatesForLeaf() const {
  std::vector<ossl::X509Ptr> out;
  if (cert_.get() != root_.get()) out.push_back(shareCertificate(cert_.get()));
  for (const auto& p : parents_) out.push_back(shareCertificate(p.get()));
  return out;
}

ossl::X509Ptr TestCa::signCsr(X509_REQ* csr, const LeafOptions& opts) const {
  std::vector<std::string> uris = opts.uris;
  if (uris.empty()) {
    auto req = inspectCsr(csr);
    TESTCA_CHECK(req.has_value());
    uris = req->uri_sans;
  }
  ossl::X509Ptr cert(X509_new());
  TESTCA_CHECK(cert);
  TESTCA_CHECK(X509_set_version(cert.get(), 2) == 1);
  setSerial(cert.get());
  TESTCA_CHECK(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get())) == 1);
  TESTCA_CHECK(X509_gmtime_adj(X509_getm_notBefore(cert.get()), opts.not_before_offset.count()) !=
               nullptr);
  TESTCA_CHECK(X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                               (opts.not_before_offset + opts.lifetime).count()) != nullptr);
  TESTCA_CHECK(X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(csr)) == 1);
  std::string san;
  for (const auto& u : uris) san += (san.empty() ? "URI:" : ",URI:") + u;
  if (!san.empty())
    addExt(cert.get(), cert_.get(), NID_subject_alt_name, ("critical," + san).c_str());
  addExt(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
  addExt(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  addExt(cert.get(), cert_.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  addExt(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid:always");
  TESTCA_CHECK(X509_sign(cert.get(), key_.get(), EVP_sha256()) > 0);
  return cert;
}

WorkloadCertificate TestCa::issue(const SpiffeId& id, const LeafOptions& opts) const {
  auto key = generateEcP256Key();
  TESTCA_CHECK(key.has_value());
  auto csr = createCsr(key->get(), id);
  TESTCA_CHECK(csr.has_value());
  ossl::X509Ptr leaf = signCsr(csr->get(), opts);
  std::vector<ossl::X509Ptr> roots;
  roots.push_back(shareCertificate(root_.get()));
  auto wc = WorkloadCertificate::create(std::move(*key), std::move(leaf), intermediatesForLeaf(),
                                        std::move(roots));
  if (!wc) std::fprintf(stderr, "TestCa::issue: %s\n", wc.error().message().c_str());
  TESTCA_CHECK(wc.has_value());
  return std::move(*wc);
}

WorkloadCertificate TestCa::issue(const std::string& spiffe_uri, const LeafOptions& opts) const {
  auto id = SpiffeId::parse(spiffe_uri);
  if (!id) std::fprintf(stderr, "TestCa::issue: %s\n", id.error().message().c_str());
  TESTCA_CHECK(id.has_value());
  return issue(*id, opts);
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "writeFile %s failed\n", path.c_str());
    std::abort();
  }
}

}  // namespace warren::identity::testing
