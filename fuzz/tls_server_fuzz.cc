// fuzz-link: warren_tls warren_identity_testing
//
// Fuzz target: arbitrary bytes from a would-be client fed to a mesh TLS server engine.
// Must never crash, hang or leak; every outcome is a FeedResult or an Error.
//
// The first input byte picks the chunk size the rest is fed in (1..256 bytes, 0 = whole), so
// record reassembly across feed() calls is exercised as well as one-shot parsing.
//
// Built with -DWARREN_FUZZ=ON (clang): a libFuzzer binary. Otherwise a replayer:
//   tls_server_fuzz FILE...            runs each file once (scripts/test.sh does this over
//                                      fuzz/corpus/tls_server/*)
//   tls_server_fuzz --make-seeds DIR   writes seed inputs (a real ClientHello, ...) to DIR
#include <cstdint>
#include <string>
#include <vector>

#include "common/tls/tls_engine.h"
#include "fuzz/seed_file.h"
#include "tests/common/identity/test_ca.h"

namespace {

using warren::identity::testing::TestCa;
using warren::tls::TlsContext;
using warren::tls::TlsEngine;

struct Mesh {
  TestCa ca = TestCa::root("fuzz root");
  warren::identity::WorkloadCertificate server_cert =
      ca.issue("spiffe://cluster.local/ns/f/sa/server");
  warren::identity::WorkloadCertificate client_cert =
      ca.issue("spiffe://cluster.local/ns/f/sa/client");
  TlsContext server = *TlsContext::server(server_cert);
  TlsContext client = *TlsContext::client(client_cert);
};

Mesh& mesh() {
  static Mesh m;
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto engine = TlsEngine::server(mesh().server);
  if (!engine) return 0;
  size_t chunk = size > 0 ? data[0] : 0;
  std::span<const uint8_t> rest(data, size);
  if (size > 0) rest = rest.subspan(1);
  if (chunk == 0) chunk = rest.size();
  static std::vector<uint8_t> plain(16384);
  // Bounded: every iteration consumes input or stops.
  while (!rest.empty()) {
    auto piece = rest.first(std::min(chunk, rest.size()));
    auto r = engine->feed(piece, plain);
    if (!r) break;
    if (r->consumed == 0) break;
    rest = rest.subspan(r->consumed);
    engine->consumeOutput(engine->pendingOutput().size());
  }
  return 0;
}

// --make-seeds DIR (fuzz/replay_main.cc): the first byte of each seed is its chunk size.
extern "C" int WarrenFuzzMakeSeeds(const char* dir_arg) {
  const std::string dir = dir_arg;
  auto client = TlsEngine::client(
      mesh().client, {*warren::identity::SpiffeId::parse("spiffe://cluster.local/ns/f/sa/server")});
  if (!client) return 1;
  std::vector<uint8_t> hello(client->pendingOutput().begin(), client->pendingOutput().end());
  std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<uint8_t> alert = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
  std::vector<uint8_t> huge_len = {0x16, 0x03, 0x01, 0xff, 0xff, 0x01};
  bool ok = warren::fuzz::writeSeed(dir, "client_hello", 0, hello) &&
            warren::fuzz::writeSeed(dir, "client_hello_bytewise", 1, hello) &&
            warren::fuzz::writeSeed(dir, "client_hello_chunks_7", 7, hello) &&
            warren::fuzz::writeSeed(dir, "client_hello_truncated", 0,
                                    std::span<const uint8_t>(hello).first(hello.size() / 2)) &&
            warren::fuzz::writeSeed(dir, "http_request", 0,
                                    {reinterpret_cast<const uint8_t*>(http.data()), http.size()}) &&
            warren::fuzz::writeSeed(dir, "alert", 0, alert) &&
            warren::fuzz::writeSeed(dir, "oversized_record", 0, huge_len);
  return ok ? 0 : 1;
}
