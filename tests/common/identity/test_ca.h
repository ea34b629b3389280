// Tests only: a throwaway certificate authority (EC P-256) that signs real leaves, so the
// identity and TLS tests use genuine certificates and chains. Internal OpenSSL failures abort
// with a message (a broken fixture, not a behaviour under test).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/identity/spiffe_id.h"
#include "common/identity/workload_certificate.h"
#include "common/openssl_ptr.h"

namespace warren::identity::testing {

struct LeafOptions {
  // Validity relative to the real clock (OpenSSL's handshake verification uses it).
  std::chrono::seconds not_before_offset = std::chrono::hours(-1);
  std::chrono::seconds lifetime = std::chrono::hours(24);
  // URI SANs to put in the leaf; empty = copy those of the CSR.
  std::vector<std::string> uris;
};

class TestCa {
 public:
  static TestCa root(const std::string& common_name = "warren test root");
  // A CA signed by this one; its leaves carry it as an intermediate.
  TestCa intermediate(const std::string& common_name) const;

  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }
  X509* rootCert() const { return root_.get(); }
  std::string certPem() const;
  std::string rootPem() const;

  // Signs `csr` (its public key; URI SANs copied unless opts.uris is set) as a mesh leaf:
  // empty subject, SAN critical, EKU serverAuth+clientAuth, keyUsage digitalSignature.
  ossl::X509Ptr signCsr(X509_REQ* csr, const LeafOptions& opts = {}) const;
  // Key + CSR + signature: a complete workload certificate for `id` trusting this CA's root.
  WorkloadCertificate issue(const SpiffeId& id, const LeafOptions& opts = {}) const;
  WorkloadCertificate issue(const std::string& spiffe_uri, const LeafOptions& opts = {}) const;
  // The intermediates a leaf signed by this CA needs (this CA, then its parents; no root).
  std::vector<ossl::X509Ptr> intermediatesForLeaf() const;

 private:
  TestCa(ossl::PKey key, ossl::X509Ptr cert, ossl::X509Ptr root, std::vector<ossl::X509Ptr> up);

  ossl::PKey key_;
  ossl::X509Ptr cert_;
  ossl::X509Ptr root_;
  std::vector<ossl::X509Ptr> parents_;  // intermediates above this CA (not the root)
};

// Writes `text` to `path`, aborting on failure.
void writeFile(const std::string& path, const std::string& text);

}  // namespace warren::identity::testing
