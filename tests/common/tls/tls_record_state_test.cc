// The record layer handed over: the exported keys and sequence numbers open the peer's next
// record and seal one the peer accepts (what the kernel's record layer does with them), through
// KeyUpdates both ways, and the engine passes bytes through afterwards.
#include <gtest/gtest.h>

#include <memory>

#include "common/tls/record_layer.h"
#include "tests/common/tls/tls_fixture.h"

namespace warren::tls::testing {
namespace {

// RFC 8446 §5.2 with the exported state: what a record layer that is not OpenSSL's (the
// kernel's, the engine's own) does with it.
struct Aead {
  Aead(uint16_t suite, const TrafficKeys& keys) : cipher(*RecordCipher::create(suite, keys)) {}
  RecordCipher cipher;

  std::string seal(std::string_view data, uint8_t type = kContentApplicationData) {
    OutputBuffer out;
    EXPECT_TRUE(cipher.seal(type, bytes(data), out));
    return {reinterpret_cast<const char*>(out.data().data()), out.size()};
  }
  // Opens one whole record; returns {inner content type, plaintext}, or type -1 when it does
  // not authenticate.
  std::pair<int, std::string> open(std::string_view rec) {
    std::vector<uint8_t> plain(rec.size());
    auto o = cipher.open(bytes(rec), plain);
    if (!o) return {-1, {}};
    return {o->content_type, std::string(reinterpret_cast<const char*>(plain.data()), o->length)};
  }
  // As if a record had gone by.
  void skipRecord() {
    TrafficKeys k = cipher.keys();
    ++k.seq;
    EXPECT_TRUE(cipher.rekey(k));
  }
};

std::string drain(TlsEngine& e) {
  auto out = e.pendingOutput();
  std::string s(reinterpret_cast<const char*>(out.data()), out.size());
  e.consumeOutput(out.size());
  return s;
}

std::string feedAll(TlsEngine& e, std::string_view in) {
  std::string got;
  std::vector<uint8_t> buf(64 * 1024);
  std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  do {
    auto r = e.feed(rest, buf);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) break;
    got.append(reinterpret_cast<const char*>(buf.data()), r->plaintext);
    rest = rest.subspan(r->consumed);
    if (r->consumed == 0 && r->plaintext == 0) break;
  } while (!rest.empty() || e.hasBufferedPlaintext());
  return got;
}

// What the kernel does with the client's exported state: opens the server's next record
// (`to_client`) and seals one (`to_server`) that the server's OpenSSL must accept. Returns the
// record layer, at the sequence numbers after both.
std::pair<Aead, Aead> carryOn(const RecordState& st, TlsEngine& server, std::string_view to_client,
                              std::string_view to_server) {
  Aead rx{st.cipher_suite, st.rx}, tx{st.cipher_suite, st.tx};
  EXPECT_TRUE(server.write(bytes(to_client)));
  EXPECT_EQ(rx.open(drain(server)), (std::pair<int, std::string>{23, std::string(to_client)}));
  EXPECT_EQ(feedAll(server, tx.seal(to_server)), to_server);
  return {std::move(rx), std::move(tx)};
}

class TlsRecordStateTest : public PairedTlsFixture {};

TEST_F(TlsRecordStateTest, ExportedStateOpensThePeersNextRecordAndSealsOneItAccepts) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string at_client, at_server;
  for (auto m : {"one", "two", "three"}) ASSERT_TRUE(c.write(bytes(m)));
  for (auto m : {"four", "five"}) ASSERT_TRUE(s.write(bytes(m)));
  pump(c, s, &at_client, &at_server);
  ASSERT_EQ(at_server, "onetwothree");
  ASSERT_EQ(at_client, "fourfive");

  auto st = c.exportRecordState();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->cipher_suite, 0x1301);
  EXPECT_EQ(st->tx.key.size(), 16u);
  EXPECT_EQ(st->tx.seq, 3u);  // the records the client sent since its Finished
  EXPECT_EQ(st->rx.seq, 2u);
  auto peer = s.exportRecordState();
  ASSERT_TRUE(peer) << peer.error().message();
  EXPECT_EQ(peer->rx.key, st->tx.key);
  EXPECT_EQ(peer->rx.iv, st->tx.iv);
  EXPECT_EQ(peer->tx.key, st->rx.key);
  EXPECT_NE(st->tx.key, st->rx.key);

  auto [rx, tx] = carryOn(*st, s, "to the kernel", "from the kernel");
  ASSERT_FALSE(s.failed()) << s.error()->message();
  // A record sealed with the wrong sequence number does not authenticate.
  ASSERT_TRUE(s.write(bytes("again")));
  rx.skipRecord();
  EXPECT_EQ(rx.open(drain(s)).first, -1);
}

TEST_F(TlsRecordStateTest, KeyUpdatesBothWaysAreFollowed) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string at_client, at_server;
  auto before = c.exportRecordState();
  ASSERT_TRUE(before) << before.error().message();
  ASSERT_TRUE(s.updateKeys(/*ask_peer=*/true));
  ASSERT_TRUE(s.write(bytes("after the server's update")));
  pump(c, s, &at_client, &at_server);
  ASSERT_TRUE(c.write(bytes("the client answers")));  // its own KeyUpdate goes first
  pump(c, s, &at_client, &at_server);
  ASSERT_EQ(at_client, "after the server's update");
  ASSERT_EQ(at_server, "the client answers");

  auto st = c.exportRecordState();
  ASSERT_TRUE(st) << st.error().message();
  auto peer = s.exportRecordState();
  ASSERT_TRUE(peer) << peer.error().message();
  EXPECT_NE(st->rx.key, before->rx.key) << "the server's KeyUpdate renewed what the client reads";
  EXPECT_NE(st->tx.key, before->tx.key) << "the client answered the request with its own";
  EXPECT_EQ(st->rx.seq, 1u);  // one record under the new key
  EXPECT_EQ(st->tx.seq, 1u);
  EXPECT_EQ(peer->rx.key, st->tx.key);
  EXPECT_EQ(peer->tx.key, st->rx.key);
  EXPECT_EQ(peer->rx.seq, st->tx.seq);

  carryOn(*st, s, "renewed", "renewed too");
}

TEST_F(TlsRecordStateTest, Aes256SuiteExportsA32ByteKey) {
  ASSERT_EQ(SSL_CTX_set_ciphersuites(server_ctx_.raw(), "TLS_AES_256_GCM_SHA384"), 1);
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  EXPECT_EQ(c.cipherName(), "TLS_AES_256_GCM_SHA384");
  auto st = c.exportRecordState();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->cipher_suite, 0x1302);
  EXPECT_EQ(st->tx.key.size(), 32u);
  carryOn(*st, s, "sha384 keys", "both ways");
}

TEST_F(TlsRecordStateTest, ExportNamesWhatIsNotAtABoundary) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  auto early = c.exportRecordState();
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message().find("handshake has not finished"), std::string::npos);
  handshake(c, s);

  ASSERT_TRUE(c.write(bytes("unsent")));
  auto unsent = c.exportRecordState();
  ASSERT_FALSE(unsent);
  EXPECT_NE(unsent.error().message().find("ciphertext are not sent"), std::string::npos);
  EXPECT_FALSE(c.handOverRecordLayer()) << "the hand-over refuses where the export does";
  EXPECT_FALSE(c.recordLayerHandedOver());
  pump(c, s);

  ASSERT_TRUE(c.write(bytes("tail"), Flush::kLater));
  auto staged = c.exportRecordState();
  ASSERT_FALSE(staged);
  EXPECT_NE(staged.error().message().find("staged"), std::string::npos);
  ASSERT_TRUE(c.flush());
  pump(c, s);

  // Half a record received: the rest is still on the wire.
  ASSERT_TRUE(s.write(bytes("split in two")));
  std::string rec = drain(s);
  EXPECT_EQ(feedAll(c, rec.substr(0, 10)), "");
  auto partial = c.exportRecordState();
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.error().message().find("received bytes are held"), std::string::npos);
  EXPECT_EQ(feedAll(c, rec.substr(10)), "split in two");
  EXPECT_TRUE(c.exportRecordState());
  // Only the 5-byte header: OpenSSL has taken it in and counts nothing as pending.
  ASSERT_TRUE(s.write(bytes("header first")));
  rec = drain(s);
  EXPECT_EQ(feedAll(c, rec.substr(0, 5)), "");
  auto header = c.exportRecordState();
  ASSERT_FALSE(header) << "a record's header alone was taken for a boundary";
  EXPECT_NE(header.error().message().find("received bytes are held"), std::string::npos);
  EXPECT_EQ(feedAll(c, rec.substr(5)), "header first");
  EXPECT_TRUE(c.exportRecordState());

  // The peer asked for a KeyUpdate: ours is due with the next write, under the old key.
  ASSERT_TRUE(s.updateKeys(/*ask_peer=*/true));
  pump(c, s);
  auto due = c.exportRecordState();
  ASSERT_FALSE(due);
  EXPECT_NE(due.error().message().find("KeyUpdate of ours is due"), std::string::npos);
  ASSERT_TRUE(c.write(bytes("sends it")));
  pump(c, s);
  EXPECT_TRUE(c.exportRecordState());

  ASSERT_TRUE(c.shutdown());
  auto closing = c.exportRecordState();
  ASSERT_FALSE(closing);
  EXPECT_NE(closing.error().message().find("closing"), std::string::npos);
}

TEST_F(TlsRecordStateTest, AHandedOverEnginePassesBytesThrough) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  handshake(c, s);
  std::string at_client, at_server;
  ASSERT_TRUE(c.write(bytes("under OpenSSL")));
  pump(c, s, &at_client, &at_server);
  auto st = c.exportRecordState();
  ASSERT_TRUE(st) << st.error().message();
  ASSERT_TRUE(c.handOverRecordLayer());
  EXPECT_TRUE(c.recordLayerHandedOver());
  EXPECT_FALSE(c.handOverRecordLayer()) << "only once";

  // The client's socket now takes plaintext; the kernel (here: Aead) seals it.
  Aead kernel_tx{st->cipher_suite, st->tx}, kernel_rx{st->cipher_suite, st->rx};
  ASSERT_EQ(*c.write(bytes("plain to the kernel")), 19u);
  EXPECT_EQ(drain(c), "plain to the kernel");
  ASSERT_TRUE(c.flush());
  EXPECT_TRUE(c.pendingOutput().empty());
  EXPECT_EQ(feedAll(s, kernel_tx.seal("plain to the kernel")), "plain to the kernel");
  // The kernel opens the server's records and hands the client plaintext.
  ASSERT_TRUE(s.write(bytes("back through the kernel")));
  auto [type, plain] = kernel_rx.open(drain(s));
  ASSERT_EQ(type, 23);
  EXPECT_EQ(feedAll(c, plain), "back through the kernel");
  EXPECT_FALSE(c.updateKeys(false)) << "the kernel owns the keys now";
  // No close_notify from a handed-over engine: the TCP close ends the connection.
  ASSERT_TRUE(c.shutdown());
  EXPECT_TRUE(c.shutdownSent());
  EXPECT_TRUE(c.pendingOutput().empty());
}

}  // namespace
}  // namespace warren::tls::testing
