// What the engine refuses, each case against a real peer: another engine, or a raw OpenSSL
// endpoint configured the way a non-conforming peer would be.
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <random>

#include "common/identity/csr.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"
#include "tests/common/tls/tls_fixture.h"

namespace warren::tls::testing {
namespace {

using namespace std::chrono_literals;
using identity::testing::LeafOptions;
using identity::testing::TestCa;

struct RawConfig {
  bool client = true;
  const identity::WorkloadCertificate* cert = nullptr;
  int max_version = TLS1_3_VERSION;
  std::string alpn_offer = std::string("\x02h2", 3);  // client: ALPN list offered
  bool server_selects_h2 = true;                      // server: answer ALPN
};

int selectH2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
             unsigned int inlen, void*) {
  static const unsigned char ours[] = {2, 'h', '2'};
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

ossl::SslCtx rawContext(const RawConfig& cfg) {
  ossl::SslCtx ctx(SSL_CTX_new(cfg.client ? TLS_client_method() : TLS_server_method()));
  SSL_CTX_set_max_proto_version(ctx.get(), cfg.max_version);
  if (cfg.cert != nullptr) {
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cfg.cert->leaf()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), cfg.cert->key()), 1);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (cfg.client) {
    if (!cfg.alpn_offer.empty()) {
      SSL_CTX_set_alpn_protos(ctx.get(),
                              reinterpret_cast<const unsigned char*>(cfg.alpn_offer.data()),
                              static_cast<unsigned>(cfg.alpn_offer.size()));
    }
  } else if (cfg.server_selects_h2) {
    SSL_CTX_set_alpn_select_cb(ctx.get(), selectH2, nullptr);
  }
  return ctx;
}

class TlsRejectionTest : public PairedTlsFixture {
 protected:
  // Runs a handshake between two engines and expects `loser` to fail with `reason`.
  static void expectFailure(const TlsEngine& engine, const std::string& reason) {
    ASSERT_TRUE(engine.failed()) << "expected failure containing: " << reason;
    EXPECT_NE(engine.error()->message().find(reason), std::string::npos)
        << "message: " << engine.error()->message();
    EXPECT_FALSE(engine.handshakeDone());
    EXPECT_FALSE(engine.peerIdentity().has_value() && engine.handshakeDone());
  }
};

TEST_F(TlsRejectionTest, ServerWithUnexpectedSan) {
  auto c = clientEngine(client_ctx_, {"spiffe://cluster.local/ns/server-ns/sa/other"});
  auto s = serverEngine(server_ctx_);
  pump(c, s);
  expectFailure(c,
                "peer identity [spiffe://cluster.local/ns/server-ns/sa/server] is not one of "
                "the expected identities [spiffe://cluster.local/ns/server-ns/sa/other]");
  EXPECT_EQ(c.error()->code(), ErrorCode::kPermissionDenied);
  // The server learns through the alert.
  expectFailure(s, "alert");
}

TEST_F(TlsRejectionTest, ClientFromAnotherTrustDomain) {
  auto foreign = ca_.issue("spiffe://evil.local/ns/client-ns/sa/client");
  auto cctx = clientContext(foreign);
  auto c = clientEngine(cctx);
  auto s = serverEngine(server_ctx_);
  pump(c, s);
  expectFailure(s, "is in trust domain \"evil.local\", expected \"cluster.local\"");
  EXPECT_TRUE(c.failed());
}

TEST_F(TlsRejectionTest, ServerFromUntrustedRoot) {
  TestCa rogue = TestCa::root("rogue");
  auto rogue_server = rogue.issue(kServerUri);
  auto sctx = serverContext(rogue_server);
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(sctx);
  pump(c, s);
  expectFailure(c, "does not verify against the mesh roots");
}

TEST_F(TlsRejectionTest, ClientFromUntrustedRoot) {
  // Signed by a rogue CA but trusting the mesh root, so it is the server that refuses.
  TestCa rogue = TestCa::root("rogue");
  auto key = identity::generateEcP256Key();
  auto csr = identity::createCsr(key->get(), spiffe(kClientUri));
  std::vector<ossl::X509Ptr> roots;
  roots.push_back(identity::shareCertificate(ca_.rootCert()));
  auto rogue_client = identity::WorkloadCertificate::create(
      std::move(*key), rogue.signCsr(csr->get()), {}, std::move(roots));
  ASSERT_TRUE(rogue_client) << rogue_client.error().message();
  auto cctx = clientContext(*rogue_client);
  auto c = clientEngine(cctx);
  auto s = serverEngine(server_ctx_);
  pump(c, s);
  expectFailure(s, "does not verify against the mesh roots");
}

TEST_F(TlsRejectionTest, ExpiredServerCertificate) {
  auto expired =
      ca_.issue(kServerUri, LeafOptions{.not_before_offset = -48h, .lifetime = 24h, .uris = {}});
  auto sctx = serverContext(expired);
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(sctx);
  pump(c, s);
  expectFailure(c, "certificate has expired");
}

TEST_F(TlsRejectionTest, ExpiredClientCertificate) {
  auto expired =
      ca_.issue(kClientUri, LeafOptions{.not_before_offset = -48h, .lifetime = 24h, .uris = {}});
  auto cctx = clientContext(expired);
  auto c = clientEngine(cctx);
  auto s = serverEngine(server_ctx_);
  pump(c, s);
  expectFailure(s, "certificate has expired");
}

TEST_F(TlsRejectionTest, NotYetValidServerCertificate) {
  auto future =
      ca_.issue(kServerUri, LeafOptions{.not_before_offset = 1h, .lifetime = 24h, .uris = {}});
  auto sctx = serverContext(future);
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(sctx);
  pump(c, s);
  expectFailure(c, "certificate is not yet valid");
}

TEST_F(TlsRejectionTest, ClientWithoutCertificate) {
  RawPeer raw(rawContext(RawConfig{.client = true}), true);
  auto s = serverEngine(server_ctx_);
  pumpRaw(s, raw);
  expectFailure(s, "peer did not return a certificate");
  EXPECT_TRUE(raw.failed());
}

TEST_F(TlsRejectionTest, ClientOfferingOnlyOtherAlpn) {
  RawPeer raw(
      rawContext(RawConfig{
          .client = true, .cert = &client_cert_, .alpn_offer = std::string("\x08http/1.1", 9)}),
      true);
  auto s = serverEngine(server_ctx_);
  pumpRaw(s, raw);
  expectFailure(s, "no application protocol");
  EXPECT_TRUE(raw.failed()) << "raw done=" << raw.handshakeDone()
                            << " out=" << s.pendingOutput().size();
}

TEST_F(TlsRejectionTest, ClientOfferingNoAlpn) {
  RawPeer raw(rawContext(RawConfig{.client = true, .cert = &client_cert_, .alpn_offer = ""}), true);
  auto s = serverEngine(server_ctx_);
  pumpRaw(s, raw);
  expectFailure(s, "peer did not negotiate ALPN \"h2\"");
}

TEST_F(TlsRejectionTest, ServerNotSelectingAlpn) {
  RawPeer raw(
      rawContext(RawConfig{.client = false, .cert = &server_cert_, .server_selects_h2 = false}),
      false);
  auto c = clientEngine(client_ctx_);
  pumpRaw(c, raw);
  expectFailure(c, "peer did not negotiate ALPN \"h2\"");
}

TEST_F(TlsRejectionTest, Tls12OnlyClient) {
  RawPeer raw(
      rawContext(RawConfig{.client = true, .cert = &client_cert_, .max_version = TLS1_2_VERSION}),
      true);
  auto s = serverEngine(server_ctx_);
  pumpRaw(s, raw);
  expectFailure(s, "unsupported protocol (the peer does not offer TLS 1.3");
  EXPECT_TRUE(raw.failed());
}

TEST_F(TlsRejectionTest, Tls12OnlyServer) {
  RawPeer raw(
      rawContext(RawConfig{.client = false, .cert = &server_cert_, .max_version = TLS1_2_VERSION}),
      false);
  auto c = clientEngine(client_ctx_);
  pumpRaw(c, raw);
  ASSERT_TRUE(c.failed());
  EXPECT_FALSE(c.handshakeDone());
  EXPECT_TRUE(raw.failed()) << "a TLS 1.2 server cannot accept a 1.3-only hello";
}

TEST_F(TlsRejectionTest, ClientSendsNoSniAndServerIssuesNoTickets) {
  // Our client against a raw server: no server_name in the ClientHello.
  RawPeer raw_server(rawContext(RawConfig{.client = false, .cert = &server_cert_}), false);
  auto c = clientEngine(client_ctx_);
  pumpRaw(c, raw_server);
  ASSERT_TRUE(c.handshakeDone()) << (c.failed() ? c.error()->message() : "");
  EXPECT_EQ(SSL_get_servername(raw_server.ssl(), TLSEXT_NAMETYPE_host_name), nullptr);

  // A raw client against our server: no NewSessionTicket ever arrives.
  auto ctx = rawContext(RawConfig{.client = true, .cert = &client_cert_});
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
  static int tickets = 0;
  tickets = 0;
  SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL*, SSL_SESSION*) {
    ++tickets;
    return 0;
  });
  RawPeer raw_client(std::move(ctx), true);
  auto s = serverEngine(server_ctx_);
  pumpRaw(s, raw_client);
  ASSERT_TRUE(s.handshakeDone()) << (s.failed() ? s.error()->message() : raw_client.errorText());
  ASSERT_TRUE(s.write(bytes("hello")));
  pumpRaw(s, raw_client);
  EXPECT_EQ(raw_client.received(), "hello");
  EXPECT_EQ(tickets, 0);
  EXPECT_EQ(s.peerIdentity()->uri(), kClientUri);
}

TEST_F(TlsRejectionTest, PlaintextHttpIsAClearError) {
  auto s = serverEngine(server_ctx_);
  std::vector<uint8_t> out(1024);
  auto r = s.feed(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(r.error().message().find("TLS handshake"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("not speaking TLS"), std::string::npos) << r.error().message();
  // Sticky.
  auto again = s.feed(bytes("x"), out);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), r.error().message());
  EXPECT_FALSE(s.write(bytes("x")));
}

TEST_F(TlsRejectionTest, CorruptedRecordAfterHandshake) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  pump(c, s);
  ASSERT_TRUE(c.handshakeDone() && s.handshakeDone());
  ASSERT_TRUE(c.write(bytes("sensitive")));
  std::vector<uint8_t> wire(c.pendingOutput().begin(), c.pendingOutput().end());
  wire[wire.size() / 2] ^= 0x40;
  std::vector<uint8_t> out(1024);
  auto r = s.feed(wire, out);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("TLS read"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("bad record mac"), std::string::npos) << r.error().message();
}

TEST_F(TlsRejectionTest, RandomInputNeverCrashes) {
  std::mt19937 rng(12345);
  std::vector<uint8_t> out(4096);
  for (int i = 0; i < 300; ++i) {
    auto s = serverEngine(server_ctx_);
    std::vector<uint8_t> junk(rng() % 2000);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (i % 3 == 0 && junk.size() >= 3) {  // look like a handshake record to go deeper
      junk[0] = 0x16;
      junk[1] = 0x03;
      junk[2] = 0x01;
    }
    auto r = s.feed(junk, out);
    if (r) {
      EXPECT_LE(r->consumed, junk.size());
      EXPECT_EQ(r->plaintext, 0u);
    } else {
      EXPECT_FALSE(r.error().message().empty());
    }
  }
}

}  // namespace
}  // namespace warren::tls::testing
