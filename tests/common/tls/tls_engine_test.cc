// Handshakes and the engine's buffering contract, with two real engines paired in memory.
#include <gtest/gtest.h>

#include "common/identity/certificate_issuer.h"
#include "common/identity/csr.h"
#include "common/identity/private_key.h"
#include "tests/common/tls/tls_fixture.h"

namespace warren::tls::testing {
namespace {

class TlsEngineTest : public PairedTlsFixture {};

TEST_F(TlsEngineTest, MutualHandshakeExposesIdentitiesAndAlpn) {
  auto c = clientEngine(client_ctx_, {"spiffe://cluster.local/ns/other/sa/x", kServerUri});
  auto s = serverEngine(server_ctx_);
  EXPECT_FALSE(c.pendingOutput().empty()) << "ClientHello ready at creation";
  handshake(c, s);
  ASSERT_TRUE(c.peerIdentity());
  EXPECT_EQ(c.peerIdentity()->uri(), kServerUri);
  ASSERT_TRUE(s.peerIdentity());
  EXPECT_EQ(s.peerIdentity()->uri(), kClientUri);
  EXPECT_EQ(c.alpn(), "h2");
  EXPECT_EQ(s.alpn(), "h2");
  EXPECT_EQ(c.cipherName(), "TLS_AES_128_GCM_SHA256");

  std::string at_client, at_server;
  ASSERT_TRUE(c.write(bytes("ping")));
  pump(c, s, &at_client, &at_server);
  EXPECT_EQ(at_server, "ping");
  ASSERT_TRUE(s.write(bytes("pong")));
  pump(c, s, &at_client, &at_server);
  EXPECT_EQ(at_client, "pong");
}

TEST_F(TlsEngineTest, IntermediateChainVerifiesAgainstRootOnly) {
  auto inter = ca_.intermediate("mesh intermediate");
  auto server_cert = inter.issue(kServerUri);
  ASSERT_EQ(server_cert.intermediates().size(), 1u);
  auto server_ctx = serverContext(server_cert);
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx);
  handshake(c, s);
  EXPECT_EQ(c.peerIdentity()->uri(), kServerUri);
}

// The production path end to end: key + CSR in "ztunnel", CertificateIssuer in "the agent",
// the CA response turned into WorkloadCertificates, then a mutual handshake.
TEST_F(TlsEngineTest, CertificatesFromTheIssuerHandshake) {
  auto issuer =
      identity::CertificateIssuer::fromPem(ca_.certPem(), *identity::privateKeyToPem(ca_.key()));
  ASSERT_TRUE(issuer) << issuer.error().message();
  auto obtain = [&](const char* uri) {
    auto key = identity::generateEcP256Key();
    auto id = spiffe(uri);
    auto chain = issuer->issue(*identity::createCsrPem(key->get(), id), id, std::chrono::hours(24),
                               identity::Clock::now());
    EXPECT_TRUE(chain) << chain.error().message();
    auto wc = identity::WorkloadCertificate::fromCaResponse(std::move(*key), *chain);
    EXPECT_TRUE(wc) << wc.error().message();
    return std::move(*wc);
  };
  auto ccert = obtain(kClientUri);
  auto scert = obtain(kServerUri);
  auto cctx = clientContext(ccert);
  auto sctx = serverContext(scert);
  auto c = clientEngine(cctx);
  auto s = serverEngine(sctx);
  handshake(c, s);
  EXPECT_EQ(c.peerIdentity()->uri(), kServerUri);
  EXPECT_EQ(s.peerIdentity()->uri(), kClientUri);
}

TEST_F(TlsEngineTest, WritesBeforeHandshakeAreDeliveredAfter) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  auto w = c.write(bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, 24u);
  std::string at_server;
  pump(c, s, nullptr, &at_server);
  EXPECT_EQ(at_server, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
}

TEST_F(TlsEngineTest, EarlyLaterWritesSendFullRecordsAndKeepTheTail) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  std::string early(20000, 'e');
  ASSERT_TRUE(c.write(bytes(early), Flush::kLater));
  std::string at_server;
  pump(c, s, nullptr, &at_server);
  ASSERT_TRUE(c.handshakeDone());
  EXPECT_EQ(at_server.size(), TlsEngine::kMaxRecordPlaintext) << "one full record, tail staged";
  ASSERT_TRUE(c.flush());
  pump(c, s, nullptr, &at_server);
  EXPECT_TRUE(at_server == early);
}

TEST_F(TlsEngineTest, RecordPolicyImmediateSmallWritesAndFullRecords) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  ASSERT_TRUE(c.pendingOutput().empty());
  const size_t rec = TlsEngine::kMaxRecordPlaintext, ovh = TlsEngine::kRecordOverhead;

  // Flush::kNow: a 10-byte write is one short record, at once.
  ASSERT_TRUE(c.write(bytes("0123456789")));
  EXPECT_EQ(c.pendingOutput().size(), 10 + ovh);
  std::string at_server;
  pump(c, s, nullptr, &at_server);
  EXPECT_EQ(at_server, "0123456789");
  at_server.clear();

  // Flush::kLater: nothing until a record fills or flush().
  ASSERT_TRUE(c.write(bytes("abc"), Flush::kLater));
  EXPECT_TRUE(c.pendingOutput().empty());
  std::string big(40000, 'x');
  ASSERT_TRUE(c.write(bytes(big), Flush::kLater));
  // 3 + 40000 = 2 full records + 7235 staged.
  EXPECT_EQ(c.pendingOutput().size(), 2 * (rec + ovh));
  EXPECT_EQ(c.writable(), TlsEngineOptions{}.output_limit - 2 * (rec + ovh) - 7235);
  ASSERT_TRUE(c.flush());
  EXPECT_EQ(c.pendingOutput().size(), 2 * (rec + ovh) + 7235 + ovh);

  pump(c, s, nullptr, &at_server);
  EXPECT_TRUE(at_server == "abc" + big) << "received " << at_server.size() << " bytes";
}

TEST_F(TlsEngineTest, WriteIsBoundedByOutputLimit) {
  TlsEngineOptions small{.output_limit = 40000};
  auto c = clientEngine(client_ctx_, {kServerUri}, small);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string big(100000, 'y');
  auto w = c.write(bytes(big));
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, 40000u);
  EXPECT_EQ(c.writable(), 0u);
  auto w2 = c.write(bytes(big));
  ASSERT_TRUE(w2);
  EXPECT_EQ(*w2, 0u);
  // Draining the output makes room again.
  std::vector<uint8_t> sink(c.pendingOutput().size());
  EXPECT_EQ(c.takeOutput(sink), sink.size());
  EXPECT_EQ(c.writable(), 40000u);
}

// Issue 12: a Flush::kLater write cut by the output limit takes whole records only. Taking the
// cut tail would stage it, and every later write would then be copied through the staging
// buffer record by record, never again starting on a record boundary.
TEST_F(TlsEngineTest, ALaterWriteCutByTheLimitTakesWholeRecordsOnly) {
  const size_t rec = TlsEngine::kMaxRecordPlaintext, ovh = TlsEngine::kRecordOverhead;
  TlsEngineOptions small{.output_limit = 3 * rec + 100};
  auto c = clientEngine(client_ctx_, {kServerUri}, small);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string big(5 * rec, 'z');
  auto w = c.write(bytes(big), Flush::kLater);
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, 3 * rec) << "three whole records, not the 100 bytes after them";
  EXPECT_EQ(c.pendingOutput().size(), 3 * (rec + ovh));
  ASSERT_TRUE(c.flush());
  EXPECT_EQ(c.pendingOutput().size(), 3 * (rec + ovh)) << "nothing staged";

  // After a staged tail the cut first completes that record.
  std::vector<uint8_t> sink(c.pendingOutput().size());
  ASSERT_EQ(c.takeOutput(sink), sink.size());
  ASSERT_TRUE(c.write(bytes(std::string(10, 'a')), Flush::kLater));
  w = c.write(bytes(big), Flush::kLater);
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, 3 * rec - 10);
  EXPECT_EQ(c.pendingOutput().size(), 3 * (rec + ovh));
}

// takeOutput(spare): the io_uring send path. The pending ciphertext leaves as the engine's own
// buffer (no copy) and the spare becomes the storage for the next records; after a partial
// consume in place the rest is copied out. The peer decrypts every byte in order either way.
TEST_F(TlsEngineTest, TakeOutputHandsTheBufferOverAndTakesTheSpare) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string at_server;
  std::vector<uint8_t> plain(64 * 1024);
  auto deliver = [&](std::span<const uint8_t> cipher) {
    for (int i = 0; i < 1000 && (!cipher.empty() || s.hasBufferedPlaintext()); ++i) {
      auto r = s.feed(cipher, plain);
      ASSERT_TRUE(r) << r.error().message();
      at_server.append(reinterpret_cast<const char*>(plain.data()), r->plaintext);
      cipher = cipher.subspan(r->consumed);
    }
    ASSERT_TRUE(cipher.empty());
  };
  auto asBytes = [](const std::vector<char>& v) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size());
  };

  std::string first(50000, 'a');
  ASSERT_TRUE(c.write(bytes(first)));
  const uint8_t* in_place = c.pendingOutput().data();
  const size_t pending = c.pendingOutput().size();
  std::vector<char> spare;
  spare.reserve(4096);
  const char* spare_storage = spare.data();
  std::vector<char> sent = c.takeOutput(std::move(spare));
  EXPECT_EQ(sent.size(), pending);
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(sent.data()), in_place) << "copied, not handed over";
  EXPECT_TRUE(c.pendingOutput().empty());
  EXPECT_EQ(c.writable(), TlsEngineOptions{}.output_limit);
  deliver(asBytes(sent));
  EXPECT_TRUE(at_server == first);

  // The next record is written into the spare's storage.
  ASSERT_TRUE(c.write(bytes("second")));
  EXPECT_EQ(reinterpret_cast<const char*>(c.pendingOutput().data()), spare_storage);

  // Part consumed in place (a synchronous send), the rest taken: a copy of the rest only.
  std::vector<uint8_t> head(5);
  ASSERT_EQ(c.takeOutput(std::span<uint8_t>(head)), 5u);
  std::vector<char> rest = c.takeOutput(std::move(sent));
  EXPECT_TRUE(c.pendingOutput().empty());
  deliver(head);
  deliver(asBytes(rest));
  EXPECT_TRUE(at_server == first + "second") << "received " << at_server.size() << " bytes";
}

TEST_F(TlsEngineTest, IdleConnectionReleasesBuffers) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string big(50000, 'q');  // within the default output limit: all of it is taken
  auto taken = c.write(bytes(big));
  ASSERT_TRUE(taken);
  ASSERT_EQ(*taken, big.size());
  ASSERT_TRUE(c.write(bytes("tail"), Flush::kLater));
  EXPECT_GT(c.releaseIdleMemory(), 50000u) << "pending output and staged bytes are kept";
  ASSERT_TRUE(c.flush());
  std::string at_server;
  pump(c, s, nullptr, &at_server);
  EXPECT_EQ(at_server.size(), big.size() + 4);
  EXPECT_EQ(c.releaseIdleMemory(), 0u);
  ASSERT_TRUE(c.write(bytes("again")));  // still usable afterwards
  pump(c, s, nullptr, &at_server);
  EXPECT_EQ(at_server.substr(at_server.size() - 5), "again");
}

TEST_F(TlsEngineTest, SmallPlaintextBufferBackpressuresCiphertext) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string msg(50000, 'z');
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(c.write(bytes(msg)));
  auto wire = c.pendingOutput();
  std::vector<uint8_t> small(1000);
  auto r = s.feed(wire, small);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->plaintext, 1000u);
  EXPECT_LT(r->consumed, wire.size()) << "stops pulling ciphertext when the buffer is full";
  EXPECT_TRUE(s.hasBufferedPlaintext());
  std::string got(reinterpret_cast<char*>(small.data()), r->plaintext);
  c.consumeOutput(r->consumed);
  std::string rest;
  pump(c, s, nullptr, &rest, 1000);
  EXPECT_EQ(got + rest, msg);
}

TEST_F(TlsEngineTest, HalfCloseBothWays) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  ASSERT_TRUE(c.write(bytes("request")));
  ASSERT_TRUE(c.shutdown());
  EXPECT_TRUE(c.shutdownSent());
  auto after = c.write(bytes("late"));
  ASSERT_FALSE(after);
  EXPECT_NE(after.error().message().find("after close_notify"), std::string::npos);

  std::string at_server;
  pump(c, s, nullptr, &at_server);
  EXPECT_EQ(at_server, "request");
  EXPECT_TRUE(s.peerClosed());
  EXPECT_FALSE(c.peerClosed());
  // The server can still answer after the client's close_notify (TLS 1.3 half-close).
  ASSERT_TRUE(s.write(bytes("response"))) << "write after peer close_notify";
  ASSERT_TRUE(s.shutdown());
  std::string at_client;
  pump(c, s, &at_client, nullptr);
  EXPECT_EQ(at_client, "response");
  EXPECT_TRUE(c.peerClosed());
  EXPECT_FALSE(c.failed());
  EXPECT_FALSE(s.failed());
}

TEST_F(TlsEngineTest, EngineMovesKeepWorking) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  TlsEngine moved_c = std::move(c);
  std::vector<TlsEngine> servers;
  servers.push_back(std::move(s));
  handshake(moved_c, servers[0]);
  EXPECT_EQ(servers[0].peerIdentity()->uri(), kClientUri);
}

TEST_F(TlsEngineTest, ContextOutlivedByEngines) {
  std::optional<TlsEngine> c, s;
  {
    auto cctx = clientContext(client_cert_);
    auto sctx = serverContext(server_cert_);
    c.emplace(clientEngine(cctx));
    s.emplace(serverEngine(sctx));
  }
  handshake(*c, *s);
}

TEST_F(TlsEngineTest, ConstructionErrors) {
  auto none = TlsEngine::client(client_ctx_, {});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("at least one expected server identity"),
            std::string::npos);
  auto wrong_role = TlsEngine::server(client_ctx_);
  ASSERT_FALSE(wrong_role);
  EXPECT_NE(wrong_role.error().message().find("needs a server TlsContext"), std::string::npos);
  auto early = serverEngine(server_ctx_).shutdown();
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message().find("before the handshake finished"), std::string::npos);
}

}  // namespace
}  // namespace warren::tls::testing
