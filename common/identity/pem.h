// Certificates to and from PEM. A "chain" is a sequence of concatenated PEM blocks, leaf first
// (the order of IstioCertificateResponse.cert_chain, INTEROP §12).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/openssl_ptr.h"

namespace warren::identity {

// Exactly one certificate; more than one PEM block is an error (use certificatesFromPem).
Result<ossl::X509Ptr> certificateFromPem(std::string_view pem);

// One or more "CERTIFICATE" blocks in order. Text between blocks is ignored (as openssl does);
// a block that is not a valid certificate, or no block at all, is an error naming its index.
Result<std::vector<ossl::X509Ptr>> certificatesFromPem(std::string_view pem);

Result<std::string> certificateToPem(X509* cert);
// The concatenation of every certificate's PEM, in order.
Result<std::string> certificatesToPem(std::span<const ossl::X509Ptr> certs);

// DER encoding (for hashing, comparing and the wire).
Result<std::string> certificateToDer(X509* cert);

// A new owning reference to the same certificate (X509_up_ref).
ossl::X509Ptr shareCertificate(X509* cert);

}  // namespace warren::identity
