// Record-engine throughput of warren::tls::TlsEngine, side by side with the textbook
// alternative (two OpenSSL SSL objects on BIO_s_mem pairs, ciphertext copied through the
// BIOs), in one process on one core: the ratio is what the zero-copy transport BIO and the
// record policy buy. Not a test; run build/bench/tls_record_bench.
//
//   BM_EngineTransfer/<write size>/<own>   client write -> server feed, plaintext bytes/s
//   BM_RawMemBioTransfer/<size>      same data through SSL_write/BIO_read/BIO_write/SSL_read
//   BM_EngineEncryptOnly/<size>/<own>      client write, ciphertext discarded
//   BM_EngineSmallWrites/<batch>/<own>     100-byte writes, Flush::kLater, flush() every <batch>
// <own> 1: both engines on their own record layer after the handshake (useOwnRecordLayer, what
// ztunnel runs without kTLS); 0: OpenSSL's.
//   BM_EngineHandshake               full mutual TLS 1.3 handshake (P-256 certs, X25519)
#include <benchmark/benchmark.h>
#include <openssl/err.h>

#include <cstring>
#include <vector>

#include "common/tls/tls_engine.h"
#include "tests/common/identity/test_ca.h"

namespace {

using warren::identity::SpiffeId;
using warren::identity::WorkloadCertificate;
using warren::identity::testing::TestCa;
using warren::tls::Flush;
using warren::tls::TlsContext;
using warren::tls::TlsEngine;

constexpr const char* kServerUri = "spiffe://cluster.local/ns/b/sa/server";

struct Mesh {
  TestCa ca = TestCa::root("bench root");
  WorkloadCertificate server_cert = ca.issue(kServerUri);
  WorkloadCertificate client_cert = ca.issue("spiffe://cluster.local/ns/a/sa/client");
  TlsContext server = *TlsContext::server(server_cert);
  TlsContext client = *TlsContext::client(client_cert);
};

Mesh& mesh() {
  static Mesh m;
  return m;
}

void moveAll(TlsEngine& from, TlsEngine& to, std::vector<uint8_t>& plain, size_t* delivered) {
  for (int i = 0; i < 1'000'000; ++i) {
    auto out = from.pendingOutput();
    if (out.empty() && !to.hasBufferedPlaintext()) return;
    auto r = to.feed(out, plain);
    if (!r) std::abort();
    from.consumeOutput(r->consumed);
    if (delivered) *delivered += r->plaintext;
    if (r->consumed == 0 && r->plaintext == 0) return;
  }
}

struct Pair {
  TlsEngine client;
  TlsEngine server;
};

Pair connectedPair(bool own = false) {
  auto c = TlsEngine::client(mesh().client, {*SpiffeId::parse(kServerUri)});
  auto s = TlsEngine::server(mesh().server);
  if (!c || !s) std::abort();
  std::vector<uint8_t> plain(16384);
  for (int i = 0; i < 10; ++i) {
    moveAll(*c, *s, plain, nullptr);
    moveAll(*s, *c, plain, nullptr);
  }
  if (!c->handshakeDone() || !s->handshakeDone()) std::abort();
  if (own && (!c->useOwnRecordLayer() || !s->useOwnRecordLayer())) std::abort();
  return Pair{std::move(*c), std::move(*s)};
}

void BM_EngineTransfer(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  Pair p = connectedPair(state.range(1) != 0);
  std::vector<uint8_t> data(chunk, 0x5a), plain(256 * 1024);
  size_t delivered = 0;
  for (auto _ : state) {
    size_t off = 0;
    while (off < chunk) {
      auto w = p.client.write(std::span<const uint8_t>(data).subspan(off));
      if (!w) std::abort();
      off += *w;
      moveAll(p.client, p.server, plain, &delivered);
    }
  }
  benchmark::DoNotOptimize(delivered);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(chunk));
}
BENCHMARK(BM_EngineTransfer)->ArgsProduct({{1024, 16384, 65536, 256 * 1024}, {0, 1}});

void BM_EngineEncryptOnly(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  Pair p = connectedPair(state.range(1) != 0);
  std::vector<uint8_t> data(chunk, 0x5a);
  for (auto _ : state) {
    size_t off = 0;
    while (off < chunk) {
      auto w = p.client.write(std::span<const uint8_t>(data).subspan(off));
      if (!w) std::abort();
      off += *w;
      p.client.consumeOutput(p.client.pendingOutput().size());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(chunk));
}
BENCHMARK(BM_EngineEncryptOnly)->ArgsProduct({{16384, 256 * 1024}, {0, 1}});

void BM_EngineSmallWrites(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  Pair p = connectedPair(state.range(1) != 0);
  std::vector<uint8_t> frame(100, 0x33), plain(256 * 1024);
  size_t delivered = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      if (!p.client.write(frame, batch == 1 ? Flush::kNow : Flush::kLater)) std::abort();
    }
    if (!p.client.flush()) std::abort();
    moveAll(p.client, p.server, plain, &delivered);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * batch * 100);
}
BENCHMARK(BM_EngineSmallWrites)->ArgsProduct({{1, 16, 128}, {0, 1}});

void BM_EngineHandshake(benchmark::State& state) {
  for (auto _ : state) {
    Pair p = connectedPair();
    benchmark::DoNotOptimize(p.server.peerIdentity());
  }
}
BENCHMARK(BM_EngineHandshake)->Unit(benchmark::kMicrosecond);

// ---- Baseline: plain OpenSSL on memory BIO pairs, same certificates and suites. ----

struct RawEnd {
  SSL* ssl = nullptr;
  BIO* in = nullptr;   // network -> ssl
  BIO* out = nullptr;  // ssl -> network
  ~RawEnd() { SSL_free(ssl); }
};

// Same certificates, version and suites as the mesh contexts, without our verify hook
// (which needs an engine): the baseline measures the record path only.
SSL_CTX* rawContext(const WorkloadCertificate& cert, bool client) {
  SSL_CTX* ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_ciphersuites(ctx, TlsContext::kCipherSuites);
  SSL_CTX_use_certificate(ctx, cert.leaf());
  SSL_CTX_use_PrivateKey(ctx, cert.key());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_num_tickets(ctx, 0);
  return ctx;
}

void rawInit(RawEnd& e, const WorkloadCertificate& cert, bool client) {
  SSL_CTX* ctx = rawContext(cert, client);
  e.ssl = SSL_new(ctx);
  SSL_CTX_free(ctx);  // the SSL keeps its own reference
  e.in = BIO_new(BIO_s_mem());
  e.out = BIO_new(BIO_s_mem());
  SSL_set_bio(e.ssl, e.in, e.out);
  if (client) {
    SSL_set_connect_state(e.ssl);
  } else {
    SSL_set_accept_state(e.ssl);
  }
}

// Copies pending ciphertext of `from` into `to` through a bounce buffer (what a caller of a
// BIO_s_mem engine does: BIO_read into its own buffer, BIO_write into the peer).
void rawShuttle(RawEnd& from, RawEnd& to, std::vector<char>& bounce) {
  for (;;) {
    int n = BIO_read(from.out, bounce.data(), static_cast<int>(bounce.size()));
    if (n <= 0) return;
    BIO_write(to.in, bounce.data(), n);
  }
}

void BM_RawMemBioTransfer(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  RawEnd c, s;
  rawInit(c, mesh().client_cert, true);
  rawInit(s, mesh().server_cert, false);
  std::vector<char> bounce(256 * 1024);
  for (int i = 0; i < 20 && !(SSL_is_init_finished(c.ssl) && SSL_is_init_finished(s.ssl)); ++i) {
    SSL_do_handshake(c.ssl);
    rawShuttle(c, s, bounce);
    SSL_do_handshake(s.ssl);
    rawShuttle(s, c, bounce);
  }
  if (!SSL_is_init_finished(c.ssl) || !SSL_is_init_finished(s.ssl)) {
    state.SkipWithError("baseline handshake failed");
    ERR_clear_error();
    return;
  }
  std::vector<uint8_t> data(chunk, 0x5a), plain(256 * 1024);
  for (auto _ : state) {
    size_t off = 0;
    while (off < chunk) {
      size_t n = std::min<size_t>(chunk - off, TlsEngine::kMaxRecordPlaintext);
      size_t written = 0;
      if (SSL_write_ex(c.ssl, data.data() + off, n, &written) != 1) std::abort();
      off += written;
      rawShuttle(c, s, bounce);
      size_t got = 0;
      while (SSL_read_ex(s.ssl, plain.data(), plain.size(), &got) == 1) {
      }
    }
  }
  ERR_clear_error();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(chunk));
}
BENCHMARK(BM_RawMemBioTransfer)->Arg(1024)->Arg(16384)->Arg(65536)->Arg(256 * 1024);

}  // namespace

BENCHMARK_MAIN();
