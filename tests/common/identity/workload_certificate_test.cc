#include "common/identity/workload_certificate.h"

#include <gtest/gtest.h>

#include "common/identity/csr.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"
#include "tests/common/identity/test_ca.h"

namespace warren::identity {
namespace {

using namespace std::chrono_literals;
using testing::LeafOptions;
using testing::TestCa;

Clock::time_point at(int64_t secs) { return Clock::time_point(std::chrono::seconds(secs)); }

struct RefreshCase {
  const char* name;
  int64_t not_before, not_after, want_ms;
};

class RefreshTime : public ::testing::TestWithParam<RefreshCase> {};

TEST_P(RefreshTime, IsHalfLife) {
  const auto& c = GetParam();
  EXPECT_EQ(WorkloadCertificate::refreshTime(at(c.not_before), at(c.not_after)),
            Clock::time_point(std::chrono::milliseconds(c.want_ms)));
}

INSTANTIATE_TEST_SUITE_P(Table, RefreshTime,
                         ::testing::Values(RefreshCase{"day", 0, 86400, 43200000},
                                           RefreshCase{"offset_hour", 1000, 4600, 2800000},
                                           RefreshCase{"odd_seconds", 10, 13, 11500},
                                           RefreshCase{"zero_lifetime", 50, 50, 50000},
                                           RefreshCase{"inverted", 100, 10, 100000}),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(WorkloadCertificate, ScheduleFromRealLeaf) {
  TestCa root = TestCa::root();
  auto wc = root.issue("spiffe://cluster.local/ns/demo/sa/web",
                       LeafOptions{.not_before_offset = -600s, .lifetime = 7200s, .uris = {}});
  EXPECT_EQ(wc.identity().uri(), "spiffe://cluster.local/ns/demo/sa/web");
  EXPECT_EQ(wc.refreshAt(), wc.notBefore() + 3600s);
  auto nb = wc.notBefore();
  EXPECT_EQ(wc.refreshDelay(nb), 3600s);
  EXPECT_EQ(wc.refreshDelay(nb + 3000s), 600s);
  EXPECT_EQ(wc.refreshDelay(nb + 5000s), Clock::duration::zero());
  EXPECT_FALSE(wc.needsRefresh(nb + 3599s));
  EXPECT_TRUE(wc.needsRefresh(nb + 3600s));
  EXPECT_FALSE(wc.isValidAt(nb - 1s));
  EXPECT_TRUE(wc.isValidAt(nb));
  EXPECT_TRUE(wc.isValidAt(nb + 7199s));
  EXPECT_FALSE(wc.isValidAt(nb + 7200s));
  EXPECT_TRUE(wc.verify(Clock::now()));
  auto late = wc.verify(nb + 3h);
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message().find("expired"), std::string::npos);
}

TEST(WorkloadCertificate, FromPemWithChainAndRoot) {
  TestCa root = TestCa::root();
  TestCa inter = root.intermediate("inter");
  auto wc = inter.issue("spiffe://td/ns/a/sa/b");
  auto key_pem = privateKeyToPem(wc.key());
  auto chain = wc.chainPem();
  ASSERT_TRUE(key_pem && chain);
  // The CA-style chain ends with the root; fromPem drops it from the chain we present.
  auto loaded = WorkloadCertificate::fromPem(*key_pem, *chain + root.rootPem(), root.rootPem());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->intermediates().size(), 1u);
  EXPECT_EQ(loaded->roots().size(), 1u);
  EXPECT_EQ(loaded->identity(), wc.identity());
  EXPECT_TRUE(loaded->verify(Clock::now()));
}

TEST(WorkloadCertificate, FromCaResponseTakesLastAsRoot) {
  TestCa root = TestCa::root();
  TestCa inter = root.intermediate("inter");
  auto key = generateEcP256Key();
  auto want = *SpiffeId::parse("spiffe://td/ns/a/sa/b");
  auto csr = createCsr(key->get(), want);
  auto leaf = inter.signCsr(csr->get());
  std::vector<std::string> response = {*certificateToPem(leaf.get()), inter.certPem(),
                                       root.rootPem()};
  auto wc = WorkloadCertificate::fromCaResponse(std::move(*key), response);
  ASSERT_TRUE(wc) << wc.error().message();
  EXPECT_EQ(wc->intermediates().size(), 1u);
  ASSERT_EQ(wc->roots().size(), 1u);
  EXPECT_EQ(X509_cmp(wc->roots()[0].get(), root.rootCert()), 0);
  EXPECT_TRUE(wc->expectIdentity(want));
  auto other = wc->expectIdentity(*SpiffeId::parse("spiffe://td/ns/a/sa/c"));
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("issued certificate is for spiffe://td/ns/a/sa/b"),
            std::string::npos);
  EXPECT_TRUE(wc->verify(Clock::now()));
}

TEST(WorkloadCertificate, RejectsMismatchedKeyAndMissingIdentity) {
  TestCa root = TestCa::root();
  auto wc = root.issue("spiffe://td/ns/a/sa/b");
  auto chain = wc.chainPem();
  auto stranger = generateEcP256Key();
  auto stranger_pem = privateKeyToPem(stranger->get());
  auto mismatched = WorkloadCertificate::fromPem(*stranger_pem, *chain, root.rootPem());
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().message().find("does not match the leaf"), std::string::npos)
      << mismatched.error().message();

  auto key = generateEcP256Key();
  auto csr = createCsr(key->get(), *SpiffeId::parse("spiffe://td/ns/a/sa/b"));
  auto leaf = root.signCsr(csr->get(), LeafOptions{.uris = {"https://not-spiffe.example"}});
  std::vector<ossl::X509Ptr> roots;
  roots.push_back(shareCertificate(root.rootCert()));
  auto no_id = WorkloadCertificate::create(std::move(*key), std::move(leaf), {}, std::move(roots));
  ASSERT_FALSE(no_id);
  EXPECT_NE(no_id.error().message().find("exactly one SPIFFE URI SAN, it has 0"), std::string::npos)
      << no_id.error().message();

  auto no_roots = WorkloadCertificate::fromPem(*privateKeyToPem(wc.key()), *chain, "");
  ASSERT_FALSE(no_roots);
  EXPECT_NE(no_roots.error().message().find("trust roots"), std::string::npos);
}

}  // namespace
}  // namespace warren::identity
