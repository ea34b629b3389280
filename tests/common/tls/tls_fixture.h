// Tests only: a mesh with one root CA and two workloads, and helpers to build engines.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/tls/tls_engine.h"
#include "tests/common/identity/test_ca.h"
#include "tests/common/tls/tls_test_peer.h"

namespace warren::tls::testing {

inline constexpr const char* kClientUri = "spiffe://cluster.local/ns/client-ns/sa/client";
inline constexpr const char* kServerUri = "spiffe://cluster.local/ns/server-ns/sa/server";

inline identity::SpiffeId spiffe(const char* uri) { return *identity::SpiffeId::parse(uri); }

inline std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class TlsFixture : public ::testing::Test {
 protected:
  TlsFixture() : ca_(identity::testing::TestCa::root("mesh root")) {}

  TlsContext clientContext(const identity::WorkloadCertificate& cert) {
    auto c = TlsContext::client(cert);
    EXPECT_TRUE(c) << c.error().message();
    return std::move(*c);
  }
  TlsContext serverContext(const identity::WorkloadCertificate& cert) {
    auto c = TlsContext::server(cert);
    EXPECT_TRUE(c) << c.error().message();
    return std::move(*c);
  }
  TlsEngine clientEngine(const TlsContext& ctx, std::vector<const char*> expected = {kServerUri},
                         TlsEngineOptions opts = {}) {
    std::vector<identity::SpiffeId> ids;
    for (auto* u : expected) ids.push_back(spiffe(u));
    auto e = TlsEngine::client(ctx, std::move(ids), opts);
    EXPECT_TRUE(e) << e.error().message();
    return std::move(*e);
  }
  TlsEngine serverEngine(const TlsContext& ctx, TlsEngineOptions opts = {}) {
    auto e = TlsEngine::server(ctx, opts);
    EXPECT_TRUE(e) << e.error().message();
    return std::move(*e);
  }

  identity::testing::TestCa ca_;
};

// A client and a server identity from the fixture's CA, with their contexts, for tests that pair
// the two ends.
class PairedTlsFixture : public TlsFixture {
 protected:
  PairedTlsFixture()
      : client_cert_(ca_.issue(kClientUri)),
        server_cert_(ca_.issue(kServerUri)),
        client_ctx_(clientContext(client_cert_)),
        server_ctx_(serverContext(server_cert_)) {}

  // Pumps until both ends finished the handshake (fatal failure otherwise).
  void handshake(TlsEngine& c, TlsEngine& s) {
    pump(c, s);
    ASSERT_FALSE(c.failed()) << c.error()->message();
    ASSERT_FALSE(s.failed()) << s.error()->message();
    ASSERT_TRUE(c.handshakeDone());
    ASSERT_TRUE(s.handshakeDone());
  }

  identity::WorkloadCertificate client_cert_;
  identity::WorkloadCertificate server_cert_;
  TlsContext client_ctx_;
  TlsContext server_ctx_;
};

}  // namespace warren::tls::testing
