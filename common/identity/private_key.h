// Workload private keys: EC P-256 (INTEROP §2: "Leaf: EC P-256 key"). Keys are generated in
// ztunnel and never leave it; PEM is PKCS#8, unencrypted (the key only ever lives in memory or
// in a test fixture).
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "common/openssl_ptr.h"

namespace warren::identity {

// A fresh EC P-256 (prime256v1) key pair.
Result<ossl::PKey> generateEcP256Key();

// PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").
Result<std::string> privateKeyToPem(EVP_PKEY* key);

// Any private key PEM OpenSSL understands (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1).
Result<ossl::PKey> privateKeyFromPem(std::string_view pem);

// True when `key` is an EC key on P-256.
bool isEcP256(EVP_PKEY* key);

}  // namespace warren::identity
