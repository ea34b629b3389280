// The engine's own record layer (TlsEngine::useOwnRecordLayer, record_layer.h) against
// OpenSSL's: data both ways in every size, KeyUpdates asked and answered both ways,
// close_notify both ways, records cut at every byte, and a clear error (with the alert a TLS
// stack sends) for a record that was tampered with, is too long, is of the wrong type, or is an
// alert.
#include <gtest/gtest.h>

#include <string>

#include "common/tls/record_layer.h"
#include "tests/common/tls/tls_fixture.h"
#include "tests/common/tls/tls_test_peer.h"

namespace warren::tls::testing {
namespace {

std::string drain(TlsEngine& e) {
  auto out = e.pendingOutput();
  std::string s(reinterpret_cast<const char*>(out.data()), out.size());
  e.consumeOutput(out.size());
  return s;
}

// Feeds `in` in pieces of `piece` bytes (re-feeding what was not consumed); the plaintext.
Result<std::string> feedInPieces(TlsEngine& e, std::string_view in, size_t piece) {
  std::string got;
  std::vector<uint8_t> buf(64 * 1024);
  std::string pending;
  for (size_t off = 0; off < in.size() || !pending.empty();) {
    size_t n = std::min(piece, in.size() - off);
    pending.append(in.substr(off, n));
    off += n;
    auto r = e.feed(bytes(pending), buf);
    if (!r) return fail(std::move(r).error());
    got.append(reinterpret_cast<const char*>(buf.data()), r->plaintext);
    pending.erase(0, r->consumed);
    if (n == 0 && r->consumed == 0 && r->plaintext == 0) break;
  }
  return got;
}

std::string pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 % 251);
  return s;
}

class TlsOwnRecordsTest : public PairedTlsFixture {
 protected:
  // A handshake, a first exchange under OpenSSL's records, then `c` (and `s` when both) on
  // their own.
  void establish(TlsEngine& c, TlsEngine& s, bool both) {
    handshake(c, s);
    std::string at_client, at_server;
    ASSERT_TRUE(c.write(bytes("under OpenSSL")));
    ASSERT_TRUE(s.write(bytes("both ways")));
    pump(c, s, &at_client, &at_server);
    ASSERT_EQ(at_server, "under OpenSSL");
    ASSERT_EQ(at_client, "both ways");
    ASSERT_TRUE(c.useOwnRecordLayer());
    EXPECT_TRUE(c.ownRecordLayer());
    if (both) {
      ASSERT_TRUE(s.useOwnRecordLayer());
    }
  }

  // Every size from a byte to several records, both ways, flushed now and batched.
  void exchange(TlsEngine& c, TlsEngine& s) {
    std::string want_client, want_server, at_client, at_server;
    char seed = 'a';
    for (size_t n :
         {size_t{1}, size_t{100}, size_t{16383}, size_t{16384}, size_t{16385}, size_t{100000}}) {
      for (Flush mode : {Flush::kNow, Flush::kLater}) {
        std::string to_server = pattern(n, seed++), to_client = pattern(n, seed++);
        sendAll(c, s, to_server, &at_server, true);
        sendAll(s, c, to_client, &at_client, false);
        if (mode == Flush::kLater) {
          ASSERT_TRUE(c.write(bytes("+later"), Flush::kLater));
          ASSERT_TRUE(c.flush());
          to_server += "+later";
        }
        pump(c, s, &at_client, &at_server);
        want_server += to_server;
        want_client += to_client;
      }
    }
    ASSERT_FALSE(c.failed()) << c.error()->message();
    ASSERT_FALSE(s.failed()) << s.error()->message();
    EXPECT_TRUE(at_server == want_server) << at_server.size() << " of " << want_server.size();
    EXPECT_TRUE(at_client == want_client) << at_client.size() << " of " << want_client.size();
  }
};

TEST_F(TlsOwnRecordsTest, CarriesEverySizeBothWaysWithOpenSslsRecordLayerOnTheOtherEnd) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  establish(c, s, /*both=*/false);
  exchange(c, s);
  EXPECT_FALSE(s.ownRecordLayer());
}

TEST_F(TlsOwnRecordsTest, CarriesEverySizeBothWaysWithBothEndsOnTheirOwn) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  establish(c, s, /*both=*/true);
  exchange(c, s);
  // The state stays exportable (kTLS, or a new ztunnel on upgrade): both ends agree on it.
  auto cs = c.exportRecordState();
  auto ss = s.exportRecordState();
  ASSERT_TRUE(cs && ss);
  EXPECT_EQ(cs->tx.key, ss->rx.key);
  EXPECT_EQ(cs->tx.seq, ss->rx.seq);
  EXPECT_EQ(cs->rx.seq, ss->tx.seq);
  EXPECT_GT(cs->tx.seq, 12u);
}

TEST_F(TlsOwnRecordsTest, AMatchingRecordSizeIsOneRecordWithTheSameOverhead) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  establish(c, s, /*both=*/false);
  ASSERT_TRUE(c.write(bytes(std::string(TlsEngine::kMaxRecordPlaintext, 'r'))));
  ASSERT_TRUE(c.write(bytes("short")));
  EXPECT_EQ(c.pendingOutput().size(),
            TlsEngine::kMaxRecordPlaintext + 5 + 2 * TlsEngine::kRecordOverhead);
}

// The plaintext length of each record in `wire` (body less the inner type and the tag).
std::vector<size_t> recordContents(std::string_view wire) {
  std::vector<size_t> sizes;
  for (size_t off = 0; off + 5 <= wire.size();) {
    size_t body =
        (size_t{static_cast<uint8_t>(wire[off + 3])} << 8) | static_cast<uint8_t>(wire[off + 4]);
    sizes.push_back(body - 1 - kRecordTagBytes);
    off += 5 + body;
  }
  return sizes;
}

// Issue 12: writeMessage() takes an HTTP/2 frame in pieces (its header, its payload where it
// lies): full records are encrypted from the pieces, a message that fits in a record is never
// cut across two (the staged record ends first), a message that does not fit in the output
// limit is refused whole; the other end, on OpenSSL's records, reads the concatenation.
TEST_F(TlsOwnRecordsTest, WriteMessageSealsWholeRecordsFromItsPieces) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  establish(c, s, /*both=*/false);
  drain(c);
  std::string sent;
  auto message = [&](std::initializer_list<size_t> sizes) {
    std::vector<std::string> kept;
    std::vector<std::span<const uint8_t>> pieces;
    for (size_t n : sizes) kept.push_back(pattern(n, static_cast<char>('A' + sent.size() % 26)));
    for (const auto& k : kept) {
      pieces.push_back(bytes(k));
    }
    auto taken = c.writeMessage(pieces);
    EXPECT_TRUE(taken) << taken.error().message();
    if (taken && *taken) {
      for (const auto& k : kept) sent += k;
    }
    return taken && *taken;
  };

  ASSERT_TRUE(message({13}));  // a WINDOW_UPDATE, say: staged
  EXPECT_TRUE(c.pendingOutput().empty());
  ASSERT_TRUE(message({9, 10000, 6375}));  // a full DATA frame, its payload wrapping a ring
  ASSERT_TRUE(message({1, 9, 20000, 15000, 4990}));
  ASSERT_TRUE(c.flush());
  std::string wire = drain(c);
  EXPECT_EQ(recordContents(wire), (std::vector<size_t>{13, 16384, 16384, 16384, 7232}));
  ASSERT_TRUE(message({9, 16375}));
  ASSERT_TRUE(message({9, 16375}));
  ASSERT_TRUE(message({9, 16375}));
  EXPECT_FALSE(message({9, 16375, 9, 16375})) << "over the 64 KiB limit with 48 KiB pending";
  ASSERT_TRUE(message({1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}));
  ASSERT_TRUE(c.flush());
  std::string more = drain(c);
  EXPECT_EQ(recordContents(more), (std::vector<size_t>{16384, 16384, 16384, 10000}));
  wire += more;
  auto got = feedInPieces(s, wire, 1 << 20);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, sent);

  // OpenSSL's records (the server here) take messages piece by piece.
  std::vector<std::string> kept = {pattern(9, 'x'), pattern(30000, 'y'), pattern(5, 'z')};
  std::vector<std::span<const uint8_t>> pieces = {bytes(kept[0]), bytes(kept[1]), bytes(kept[2])};
  auto taken = s.writeMessage(pieces);
  ASSERT_TRUE(taken && *taken);
  ASSERT_TRUE(s.flush());
  auto at_client = feedInPieces(c, drain(s), 1 << 20);
  ASSERT_TRUE(at_client) << at_client.error().message();
  EXPECT_EQ(*at_client, kept[0] + kept[1] + kept[2]);
}

TEST_F(TlsOwnRecordsTest, FollowsKeyUpdatesAskedEitherWay) {
  for (bool own_asks : {false, true}) {
    SCOPED_TRACE(own_asks ? "the own record layer asks" : "OpenSSL asks");
    auto c = clientEngine(client_ctx_);
    auto s = serverEngine(server_ctx_);
    establish(c, s, /*both=*/false);
    auto before = c.exportRecordState();
    ASSERT_TRUE(before);
    ASSERT_TRUE((own_asks ? c : s).updateKeys(/*ask_peer=*/true));
    std::string at_client, at_server;
    ASSERT_TRUE(c.write(bytes("from the client")));
    ASSERT_TRUE(s.write(bytes("from the server")));
    pump(c, s, &at_client, &at_server);
    // The answer to the request goes out with the next write (OpenSSL) or at once (ours).
    ASSERT_TRUE(c.write(bytes(", again")));
    ASSERT_TRUE(s.write(bytes(", again")));
    pump(c, s, &at_client, &at_server);
    ASSERT_FALSE(c.failed()) << c.error()->message();
    ASSERT_FALSE(s.failed()) << s.error()->message();
    EXPECT_EQ(at_server, "from the client, again");
    EXPECT_EQ(at_client, "from the server, again");
    auto after = c.exportRecordState();
    ASSERT_TRUE(after) << after.error().message();
    EXPECT_NE(after->tx.key, before->tx.key) << "both directions renewed";
    EXPECT_NE(after->rx.key, before->rx.key);
    auto peer = s.exportRecordState();
    ASSERT_TRUE(peer) << peer.error().message();
    EXPECT_EQ(peer->rx.key, after->tx.key);
    EXPECT_EQ(peer->tx.key, after->rx.key);
  }
}

TEST_F(TlsOwnRecordsTest, CloseNotifyBothWays) {
  for (bool own_closes : {true, false}) {
    auto c = clientEngine(client_ctx_);
    auto s = serverEngine(server_ctx_);
    establish(c, s, /*both=*/false);
    TlsEngine& closer = own_closes ? c : s;
    TlsEngine& other = own_closes ? s : c;
    ASSERT_TRUE(closer.write(bytes("last words")));
    ASSERT_TRUE(closer.shutdown());
    EXPECT_FALSE(closer.write(bytes("after")));
    auto got = feedInPieces(other, drain(closer), 1 << 20);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, "last words");
    EXPECT_TRUE(other.peerClosed()) << (own_closes ? "OpenSSL" : "ours") << " saw close_notify";
  }
}

TEST_F(TlsOwnRecordsTest, RecordsCutAtEveryByteArriveWhole) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  establish(c, s, /*both=*/true);
  std::string data = pattern(40000, 'x');
  ASSERT_TRUE(c.write(bytes(data)));
  std::string wire = drain(c);
  for (size_t piece : {size_t{1}, size_t{5}, size_t{7}, size_t{16406}, size_t{16500}}) {
    SCOPED_TRACE(piece);
    ASSERT_TRUE(s.write(bytes(data)));
    auto got = feedInPieces(c, drain(s), piece);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_TRUE(*got == data);
  }
  auto got = feedInPieces(s, wire, 3);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(*got == data);
}

// A record of the peer's, changed as `mangle` says, reaches our own record layer: it fails with
// `error`, queues the fatal alert `alert` for the peer, and OpenSSL there reads that alert.
struct Tampering {
  const char* what;
  void (*mangle)(std::string&);
  const char* error;
  const char* peer_reads;  // OpenSSL's name of the alert we sent
};

TEST_F(TlsOwnRecordsTest, TamperedOverlongOrMistypedRecordsFailWithTheirAlert) {
  const Tampering cases[] = {
      {"a flipped ciphertext bit", [](std::string& r) { r[10] ^= 1; }, "bad_record_mac",
       "bad record mac"},
      {"a flipped tag bit", [](std::string& r) { r.back() ^= 0x80; }, "bad_record_mac",
       "bad record mac"},
      {"a length over 2^14 + 256",
       [](std::string& r) {
         r[3] = 0x41;
         r[4] = 0x01;
         r.resize(5 + 0x4101, 'x');
       },
       "record_overflow", "record overflow"},
      {"an outer type of handshake", [](std::string& r) { r[0] = 22; }, "after the handshake",
       "unexpected message"},
      {"a TLS 1.0 version", [](std::string& r) { r[2] = 1; }, "want 0x0303", "decode error"},
  };
  for (const auto& t : cases) {
    SCOPED_TRACE(t.what);
    auto c = clientEngine(client_ctx_);
    auto s = serverEngine(server_ctx_);
    establish(c, s, /*both=*/false);
    ASSERT_TRUE(s.write(bytes("a record to change")));
    std::string rec = drain(s);
    t.mangle(rec);
    auto got = feedInPieces(c, rec, rec.size());
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message().find(t.error), std::string::npos) << got.error().message();
    EXPECT_TRUE(c.failed());
    auto at_peer = feedInPieces(s, drain(c), 1 << 20);
    ASSERT_FALSE(at_peer) << "the peer got no alert";
    EXPECT_NE(at_peer.error().message().find(t.peer_reads), std::string::npos)
        << at_peer.error().message();
  }
}

TEST_F(TlsOwnRecordsTest, AnAlertFromThePeerIsNamed) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  establish(c, s, /*both=*/false);
  // The server's next record, sealed by hand with its exported state: a fatal
  // handshake_failure alert (40).
  auto st = s.exportRecordState();
  ASSERT_TRUE(st) << st.error().message();
  auto cipher = RecordCipher::create(st->cipher_suite, st->tx);
  ASSERT_TRUE(cipher) << cipher.error().message();
  OutputBuffer out;
  const uint8_t alert[2] = {2, 40};
  ASSERT_TRUE(cipher->seal(kContentAlert, alert, out));
  std::string rec(reinterpret_cast<const char*>(out.data().data()), out.size());
  auto got = feedInPieces(c, rec, rec.size());
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message().find("TLS alert from the peer: handshake failure (40)"),
            std::string::npos)
      << got.error().message();
}

TEST_F(TlsOwnRecordsTest, ASwitchNeedsOnlyAReceiveSideBoundary) {
  auto c = clientEngine(client_ctx_);
  auto s = serverEngine(server_ctx_);
  EXPECT_FALSE(c.useOwnRecordLayer()) << "before the handshake";
  handshake(c, s);
  // Half a record received: OpenSSL holds it, so the switch waits.
  ASSERT_TRUE(s.write(bytes("split in two")));
  std::string rec = drain(s);
  auto first = feedInPieces(c, rec.substr(0, 10), 10);
  ASSERT_TRUE(first);
  auto partial = c.useOwnRecordLayer();
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.error().message().find("received bytes are held"), std::string::npos);
  EXPECT_FALSE(c.ownRecordLayer());
  auto rest = feedInPieces(c, rec.substr(10), 1 << 20);
  ASSERT_TRUE(rest);
  EXPECT_EQ(*first + *rest, "split in two");
  // Records OpenSSL sealed and not yet sent, and staged plaintext, are no obstacle: ours follow
  // them in the same output, and the staged bytes are sealed by the own layer.
  ASSERT_TRUE(c.write(bytes("sealed by OpenSSL, ")));
  ASSERT_TRUE(c.write(bytes("staged, "), Flush::kLater));
  ASSERT_TRUE(c.useOwnRecordLayer());
  EXPECT_FALSE(c.useOwnRecordLayer()) << "twice";
  ASSERT_TRUE(c.write(bytes("sealed by ours")));
  auto at_server = feedInPieces(s, drain(c), 1 << 20);
  ASSERT_TRUE(at_server) << at_server.error().message();
  EXPECT_EQ(*at_server, "sealed by OpenSSL, staged, sealed by ours");
  // A plaintext buffer that can never hold a record is a caller's error, not a stall.
  ASSERT_TRUE(s.write(bytes(std::string(1000, 'b'))));
  std::vector<uint8_t> tiny(100);
  auto r = c.feed(bytes(drain(s)), tiny);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cannot hold a TLS record"), std::string::npos);
}

// TlsEngineOptions::own_records_at_handshake (what HBONE connections use without kTLS): the
// records are ours from the handshake's last record on, also when the peer's first data
// arrives in the same read as that record.
TEST_F(TlsOwnRecordsTest, EnginesTakeTheRecordsAsTheHandshakeCompletes) {
  TlsEngineOptions own{.own_records_at_handshake = true};
  auto c = clientEngine(client_ctx_, {kServerUri}, own);
  auto s = serverEngine(server_ctx_, own);
  ASSERT_TRUE(c.write(bytes("written before the handshake")));
  std::vector<uint8_t> buf(64 * 1024);
  auto hello = s.feed(bytes(drain(c)), buf);  // ClientHello -> the server's flight
  ASSERT_TRUE(hello) << hello.error().message();
  auto flight = c.feed(bytes(drain(s)), buf);  // -> the client's Finished, then its data
  ASSERT_TRUE(flight) << flight.error().message();
  EXPECT_TRUE(flight->handshake_completed);
  EXPECT_TRUE(c.ownRecordLayer());
  ASSERT_TRUE(s.write(bytes("the server's first data")));  // before its handshake completes
  std::string finished_and_data = drain(c);
  auto done = s.feed(bytes(finished_and_data), buf);  // Finished and data in one read
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_TRUE(done->handshake_completed);
  EXPECT_TRUE(s.ownRecordLayer());
  EXPECT_EQ(done->consumed, finished_and_data.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), done->plaintext),
            "written before the handshake");
  auto at_client = feedInPieces(c, drain(s), 1 << 20);
  ASSERT_TRUE(at_client) << at_client.error().message();
  EXPECT_EQ(*at_client, "the server's first data");
  exchange(c, s);
}

}  // namespace
}  // namespace warren::tls::testing
