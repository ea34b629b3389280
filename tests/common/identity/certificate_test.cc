#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/identity/certificate_info.h"
#include "common/identity/chain_verification.h"
#include "common/identity/csr.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"
#include "tests/common/identity/test_ca.h"

namespace warren::identity {
namespace {

using namespace std::chrono_literals;
using testing::LeafOptions;
using testing::TestCa;

SpiffeId id(const char* uri) { return *SpiffeId::parse(uri); }

TEST(PrivateKey, GeneratesP256AndRoundTripsPem) {
  auto key = generateEcP256Key();
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_TRUE(isEcP256(key->get()));
  auto pem = privateKeyToPem(key->get());
  ASSERT_TRUE(pem);
  EXPECT_TRUE(pem->starts_with("-----BEGIN PRIVATE KEY-----"));
  auto back = privateKeyFromPem(*pem);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(EVP_PKEY_eq(key->get(), back->get()), 1);
}

TEST(PrivateKey, GarbageIsAClearError) {
  auto k = privateKeyFromPem("not a key");
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(k.error().message().find("parsing private key PEM"), std::string::npos);
  EXPECT_FALSE(privateKeyFromPem(""));
}

TEST(Csr, EmptySubjectCriticalSpiffeSan) {
  auto key = generateEcP256Key();
  ASSERT_TRUE(key);
  auto pem = createCsrPem(key->get(), id("spiffe://cluster.local/ns/demo/sa/web"));
  ASSERT_TRUE(pem) << pem.error().message();
  EXPECT_TRUE(pem->starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
  auto csr = csrFromPem(*pem);
  ASSERT_TRUE(csr) << csr.error().message();
  EXPECT_EQ(X509_NAME_entry_count(X509_REQ_get_subject_name(csr->get())), 0);
  auto req = inspectCsr(csr->get());
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->san_critical);  // istio/istio#56191
  ASSERT_EQ(req->identities.size(), 1u);
  EXPECT_EQ(req->identities[0].uri(), "spiffe://cluster.local/ns/demo/sa/web");
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(csr->get()), key->get()), 1);
}

TEST(Csr, TamperedSignatureRejected) {
  auto key = generateEcP256Key();
  auto other = generateEcP256Key();
  auto csr = createCsr(key->get(), id("spiffe://td/ns/a/sa/b"));
  ASSERT_TRUE(csr);
  // Swap in another public key: the self-signature no longer matches.
  ASSERT_EQ(X509_REQ_set_pubkey(csr->get(), other->get()), 1);
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(bio.get(), csr->get()), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  auto parsed = csrFromPem(std::string_view(data, static_cast<size_t>(len)));
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message().find("does not verify"), std::string::npos);
}

TEST(Pem, ChainRoundTripAndErrors) {
  TestCa root = TestCa::root();
  TestCa inter = root.intermediate("inter");
  auto wc = inter.issue("spiffe://td/ns/a/sa/b");
  auto chain = wc.chainPem();
  ASSERT_TRUE(chain);
  auto certs = certificatesFromPem("junk before\n" + *chain + "junk after");
  ASSERT_TRUE(certs) << certs.error().message();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(X509_cmp(certs->at(0).get(), wc.leaf()), 0);
  EXPECT_EQ(X509_cmp(certs->at(1).get(), inter.cert()), 0);

  auto one = certificateFromPem(*chain);
  ASSERT_FALSE(one);
  EXPECT_NE(one.error().message().find("exactly one certificate, found 2"), std::string::npos);

  auto none = certificatesFromPem("hello");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("no certificate found"), std::string::npos);

  auto bad = certificatesFromPem(*chain +
                                 "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("PEM block 2 is not a valid certificate"),
            std::string::npos);

  auto cut = certificatesFromPem("-----BEGIN CERTIFICATE-----\nAAAA\n");
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message().find("has no \"-----END CERTIFICATE-----\" line"),
            std::string::npos);
}

TEST(CertificateInfo, DecodesLeaf) {
  TestCa root = TestCa::root("my root");
  auto wc = root.issue("spiffe://cluster.local/ns/demo/sa/web",
                       LeafOptions{.not_before_offset = -60s, .lifetime = 3600s, .uris = {}});
  auto info = inspectCertificate(wc.leaf());
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_FALSE(info->serial_hex.empty());
  EXPECT_EQ(info->subject, "");
  EXPECT_NE(info->issuer.find("CN=my root"), std::string::npos);
  EXPECT_EQ(info->not_after - info->not_before, 3600s);
  auto now = Clock::now();
  EXPECT_LT(info->not_before, now);
  EXPECT_GT(info->not_after, now);
  ASSERT_EQ(info->identities.size(), 1u);
  EXPECT_EQ(info->identities[0].uri(), "spiffe://cluster.local/ns/demo/sa/web");
  EXPECT_FALSE(info->is_ca);
  EXPECT_FALSE(info->self_issued);

  auto root_info = inspectCertificate(root.cert());
  ASSERT_TRUE(root_info);
  EXPECT_TRUE(root_info->is_ca);
  EXPECT_TRUE(root_info->self_issued);
}

TEST(CertificateInfo, KeepsNonSpiffeUris) {
  TestCa root = TestCa::root();
  auto key = generateEcP256Key();
  auto csr = createCsr(key->get(), id("spiffe://td/ns/a/sa/b"));
  auto leaf = root.signCsr(csr->get(),
                           LeafOptions{.uris = {"https://example.com/x", "spiffe://td/ns/a/sa/b"}});
  auto info = inspectCertificate(leaf.get());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->uri_sans.size(), 2u);
  ASSERT_EQ(info->identities.size(), 1u);
  EXPECT_EQ(info->identities[0].uri(), "spiffe://td/ns/a/sa/b");
}

struct IdentityCase {
  const char* name;
  std::vector<const char*> presented;
  std::vector<const char*> expected;
  const char* trust_domain;
  const char* want;  // matched URI, or nullptr for rejection
  const char* error_contains;
};

class CheckIdentity : public ::testing::TestWithParam<IdentityCase> {};

TEST_P(CheckIdentity, Decides) {
  const auto& c = GetParam();
  std::vector<SpiffeId> presented;
  for (auto* u : c.presented) presented.push_back(id(u));
  IdentityPolicy policy;
  for (auto* u : c.expected) policy.expected.push_back(id(u));
  policy.trust_domain = c.trust_domain;
  auto r = checkIdentity(presented, policy);
  if (c.want != nullptr) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->uri(), c.want);
  } else {
    ASSERT_FALSE(r) << "accepted " << r->uri();
    EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_NE(r.error().message().find(c.error_contains), std::string::npos) << r.error().message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, CheckIdentity,
    ::testing::Values(
        IdentityCase{"no_policy", {"spiffe://td/ns/a/sa/b"}, {}, "", "spiffe://td/ns/a/sa/b", ""},
        IdentityCase{"nothing_presented", {}, {}, "", nullptr, "no SPIFFE URI SAN"},
        IdentityCase{"expected_match",
                     {"spiffe://td/ns/a/sa/b"},
                     {"spiffe://td/ns/x/sa/y", "spiffe://td/ns/a/sa/b"},
                     "",
                     "spiffe://td/ns/a/sa/b",
                     ""},
        IdentityCase{"expected_miss",
                     {"spiffe://td/ns/a/sa/b"},
                     {"spiffe://td/ns/x/sa/y"},
                     "",
                     nullptr,
                     "is not one of the expected identities [spiffe://td/ns/x/sa/y]"},
        IdentityCase{
            "same_trust_domain", {"spiffe://td/ns/a/sa/b"}, {}, "td", "spiffe://td/ns/a/sa/b", ""},
        IdentityCase{"other_trust_domain",
                     {"spiffe://evil/ns/a/sa/b"},
                     {},
                     "td",
                     nullptr,
                     "in trust domain \"evil\", expected \"td\""},
        IdentityCase{"second_san_matches",
                     {"spiffe://td/ns/a/sa/b", "spiffe://td/ns/c/sa/d"},
                     {"spiffe://td/ns/c/sa/d"},
                     "td",
                     "spiffe://td/ns/c/sa/d",
                     ""}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(VerifyChain, AcceptsLeafViaIntermediate) {
  TestCa root = TestCa::root();
  TestCa inter = root.intermediate("inter");
  auto wc = inter.issue("spiffe://td/ns/a/sa/b");
  auto r = verifyCertificateChain(
      wc.leaf(), wc.intermediates(), wc.roots(), Clock::now(),
      IdentityPolicy{.expected = {id("spiffe://td/ns/a/sa/b")}, .trust_domain = "td"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uri(), "spiffe://td/ns/a/sa/b");
}

TEST(VerifyChain, RejectsMissingIntermediateWrongRootAndTime) {
  TestCa root = TestCa::root();
  TestCa inter = root.intermediate("inter");
  TestCa other = TestCa::root("other");
  auto wc = inter.issue("spiffe://td/ns/a/sa/b");

  auto no_inter = verifyCertificateChain(wc.leaf(), {}, wc.roots(), Clock::now(), IdentityPolicy{});
  ASSERT_FALSE(no_inter);
  EXPECT_NE(no_inter.error().message().find("unable to get local issuer certificate"),
            std::string::npos)
      << no_inter.error().message();

  std::vector<ossl::X509Ptr> other_roots;
  other_roots.push_back(shareCertificate(other.cert()));
  auto wrong_root = verifyCertificateChain(wc.leaf(), wc.intermediates(), other_roots, Clock::now(),
                                           IdentityPolicy{});
  ASSERT_FALSE(wrong_root);
  EXPECT_EQ(wrong_root.error().code(), ErrorCode::kPermissionDenied);

  auto later = verifyCertificateChain(wc.leaf(), wc.intermediates(), wc.roots(), Clock::now() + 48h,
                                      IdentityPolicy{});
  ASSERT_FALSE(later);
  EXPECT_NE(later.error().message().find("certificate has expired"), std::string::npos)
      << later.error().message();

  auto earlier = verifyCertificateChain(wc.leaf(), wc.intermediates(), wc.roots(),
                                        Clock::now() - 2h, IdentityPolicy{});
  ASSERT_FALSE(earlier);
  EXPECT_NE(earlier.error().message().find("not yet valid"), std::string::npos)
      << earlier.error().message();
}

TEST(VerifyChain, IdentityMismatchAfterValidPath) {
  TestCa root = TestCa::root();
  auto wc = root.issue("spiffe://td/ns/a/sa/b");
  auto r = verifyCertificateChain(
      wc.leaf(), {}, wc.roots(), Clock::now(),
      IdentityPolicy{.expected = {id("spiffe://td/ns/a/sa/c")}, .trust_domain = {}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not one of the expected identities"), std::string::npos);
}

TEST(Rfc3339Test, UtcToTheSecond) {
  EXPECT_EQ(rfc3339(Clock::time_point{}), "1970-01-01T00:00:00Z");
  // 2026-12-03T07:16:17Z; the fraction of a second is dropped, not rounded.
  EXPECT_EQ(rfc3339(Clock::time_point{std::chrono::seconds(1796282177)} + 999ms),
            "2026-12-03T07:16:17Z");
}

}  // namespace
}  // namespace warren::identity
