#include "lab/cluster_ca.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include <openssl/pem.h>

#include "common/openssl_ptr.h"

namespace warren::lab {
namespace {

Error sslError(const std::string& what) { return Error(ErrorCode::kInternal, "OpenSSL: " + what); }

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

Status createClusterCa(const std::string& ca_dir, const std::string& trust_domain) {
  std::error_code ec;
  std::filesystem::create_directories(ca_dir, ec);
  if (ec) return fail(Error::system(ec.value(), "create " + ca_dir));

  ossl::PKey key(EVP_EC_gen("P-256"));
  if (!key) return fail(sslError("generate P-256 key"));

  ossl::X509Ptr cert(X509_new());
  if (!cert) return fail(sslError("X509_new"));
  X509_set_version(cert.get(), 2);
  ossl::BigNum serial(BN_new());
  BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(trust_domain.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("warren-lab root CA"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> exts[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_subject_key_identifier, "hash"},
  };
  for (const auto& [nid, value] : exts) {
    ossl::X509Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || !X509_add_ext(cert.get(), ext.get(), -1))
      return fail(sslError(std::string("add extension ") + value));
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return fail(sslError("sign CA"));

  std::string key_path = ca_dir + "/ca.key";
  std::string crt_path = ca_dir + "/ca.crt";
  {
    mode_t old = ::umask(0077);
    std::unique_ptr<FILE, FileCloser> f(std::fopen(key_path.c_str(), "w"));
    ::umask(old);
    if (!f) return fail(WARREN_SYS_ERROR("create " + key_path));
    if (!PEM_write_PrivateKey(f.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr))
      return fail(sslError("write " + key_path));
  }
  {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(crt_path.c_str(), "w"));
    if (!f) return fail(WARREN_SYS_ERROR("create " + crt_path));
    if (!PEM_write_X509(f.get(), cert.get())) return fail(sslError("write " + crt_path));
  }
  return ok();
}

}  // namespace warren::lab
