#include "common/identity/certificate_issuer.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "common/identity/csr.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"
#include "common/identity/workload_certificate.h"
#include "tests/common/identity/test_ca.h"

namespace warren::identity {
namespace {

using namespace std::chrono_literals;
using testing::TestCa;

std::string keyPem(EVP_PKEY* k) { return *privateKeyToPem(k); }

TEST(CertificateIssuer, IssuesVerifiableLeafForCallerIdentity) {
  TestCa root = TestCa::root("lab root");
  auto issuer = CertificateIssuer::fromPem(root.certPem(), keyPem(root.key()));
  ASSERT_TRUE(issuer) << issuer.error().message();
  auto key = generateEcP256Key();
  auto want = *SpiffeId::parse("spiffe://cluster.local/ns/demo/sa/web");
  // The CSR asks for another identity: the issuer signs the identity the caller vouches for.
  auto csr = createCsrPem(key->get(), *SpiffeId::parse("spiffe://cluster.local/ns/x/sa/evil"));
  auto now = Clock::now();
  auto chain = issuer->issue(*csr, want, 24h, now);
  ASSERT_TRUE(chain) << chain.error().message();
  ASSERT_EQ(chain->size(), 2u);  // leaf, root

  auto wc = WorkloadCertificate::fromCaResponse(std::move(*key), *chain);
  ASSERT_TRUE(wc) << wc.error().message();
  EXPECT_TRUE(wc->expectIdentity(want));
  EXPECT_TRUE(wc->verify(now));
  EXPECT_EQ(wc->info().subject, "");
  EXPECT_EQ(wc->notAfter() - wc->notBefore(), 24h + CertificateIssuer::kBackdate);
  // Critical SAN on the issued leaf too.
  int idx = X509_get_ext_by_NID(wc->leaf(), NID_subject_alt_name, -1);
  ASSERT_GE(idx, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(wc->leaf(), idx)), 1);
  EXPECT_EQ(*issuer->rootPem(), root.rootPem());
}

TEST(CertificateIssuer, IntermediateChainAndErrors) {
  TestCa root = TestCa::root("root");
  TestCa inter = root.intermediate("inter");
  auto issuer = CertificateIssuer::fromPem(inter.certPem() + root.rootPem(), keyPem(inter.key()));
  ASSERT_TRUE(issuer) << issuer.error().message();
  auto key = generateEcP256Key();
  auto id = *SpiffeId::parse("spiffe://td/ns/a/sa/b");
  auto chain = issuer->issue(*createCsrPem(key->get(), id), id, 1h, Clock::now());
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->size(), 3u);
  auto wc = WorkloadCertificate::fromCaResponse(std::move(*key), *chain);
  ASSERT_TRUE(wc);
  EXPECT_EQ(wc->intermediates().size(), 1u);
  EXPECT_TRUE(wc->verify(Clock::now()));

  auto bad_ttl = issuer->issue(*createCsrPem(generateEcP256Key()->get(), id), id, 0s, Clock::now());
  ASSERT_FALSE(bad_ttl);
  EXPECT_NE(bad_ttl.error().message().find("TTL must be positive"), std::string::npos);
  auto bad_csr = issuer->issue("garbage", id, 1h, Clock::now());
  ASSERT_FALSE(bad_csr);
  EXPECT_NE(bad_csr.error().message().find("parsing CSR PEM"), std::string::npos);

  auto mismatched = CertificateIssuer::fromPem(root.certPem(), keyPem(inter.key()));
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().message().find("does not match"), std::string::npos);
  auto leaf_as_ca = CertificateIssuer::fromPem(*wc->chainPem(), keyPem(wc->key()));
  ASSERT_FALSE(leaf_as_ca);
  EXPECT_NE(leaf_as_ca.error().message().find("is not a CA"), std::string::npos);
}

}  // namespace
}  // namespace warren::identity
