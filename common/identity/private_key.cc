#include "common/identity/private_key.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <cstring>

#include "common/identity/openssl_errors.h"

namespace warren::identity {

Result<ossl::PKey> generateEcP256Key() {
  ossl::PKey key(EVP_EC_gen("P-256"));
  if (!key) return fail(opensslError(ErrorCode::kInternal, "generating an EC P-256 key"));
  return key;
}

Result<std::string> privateKeyToPem(EVP_PKEY* key) {
  if (key == nullptr) return fail(Error::invalid("privateKeyToPem: no key"));
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "writing a private key as PEM"));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<ossl::PKey> privateKeyFromPem(std::string_view pem) {
  if (pem.empty()) return fail(Error::invalid("private key PEM is empty"));
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(opensslError(ErrorCode::kInternal, "allocating a memory BIO"));
  // A null passphrase callback that refuses: an encrypted key is a clear error, not a prompt.
  auto no_pass = [](char*, int, int, void*) { return -1; };
  ossl::PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass, nullptr));
  if (!key) return fail(opensslError(ErrorCode::kInvalidArgument, "parsing private key PEM"));
  return key;
}

bool isEcP256(EVP_PKEY* key) {
  if (key == nullptr || !EVP_PKEY_is_a(key, "EC")) return false;
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    return false;
  }
  return std::strcmp(name, "prime256v1") == 0 || std::strcmp(name, "P-256") == 0;
}

}  // namespace warren::identity
