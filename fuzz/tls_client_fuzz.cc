// fuzz-link: warren_tls warren_identity_testing
//
// Fuzz target: arbitrary bytes from a would-be server fed to a mesh TLS client engine that has
// sent its ClientHello (the outbound side of ztunnel talking to an untrusted 15008).
// Must never crash, hang or leak; every outcome is a FeedResult or an Error.
//
// The first input byte picks the chunk size the rest is fed in (0 = whole input).
// Replayer mode (plain build): tls_client_fuzz FILE... ; tls_client_fuzz --make-seeds DIR
// writes a real server first flight (ServerHello..Finished answering one of our hellos).
#include <cstdint>
#include <string>
#include <vector>

#include "common/tls/tls_engine.h"
#include "fuzz/seed_file.h"
#include "tests/common/identity/test_ca.h"

namespace {

using warren::identity::SpiffeId;
using warren::identity::testing::TestCa;
using warren::tls::TlsContext;
using warren::tls::TlsEngine;

constexpr const char* kServerUri = "spiffe://cluster.local/ns/f/sa/server";

struct Mesh {
  TestCa ca = TestCa::root("fuzz root");
  warren::identity::WorkloadCertificate server_cert = ca.issue(kServerUri);
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
  auto engine = TlsEngine::client(mesh().client, {*SpiffeId::parse(kServerUri)});
  if (!engine) return 0;
  engine->consumeOutput(engine->pendingOutput().size());
  size_t chunk = size > 0 ? data[0] : 0;
  std::span<const uint8_t> rest(data, size);
  if (size > 0) rest = rest.subspan(1);
  if (chunk == 0) chunk = rest.size();
  static std::vector<uint8_t> plain(16384);
  while (!rest.empty()) {
    auto r = engine->feed(rest.first(std::min(chunk, rest.size())), plain);
    if (!r || r->consumed == 0) break;
    rest = rest.subspan(r->consumed);
    engine->consumeOutput(engine->pendingOutput().size());
  }
  return 0;
}

// --make-seeds DIR (fuzz/replay_main.cc): the first byte of each seed is its chunk size.
extern "C" int WarrenFuzzMakeSeeds(const char* dir_arg) {
  const std::string dir = dir_arg;
  auto client = TlsEngine::client(mesh().client, {*SpiffeId::parse(kServerUri)});
  auto server = TlsEngine::server(mesh().server);
  if (!client || !server) return 1;
  std::vector<uint8_t> plain(16384);
  auto r = server->feed(client->pendingOutput(), plain);
  if (!r) return 1;
  std::vector<uint8_t> flight(server->pendingOutput().begin(), server->pendingOutput().end());
  std::vector<uint8_t> alert = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
  std::string http = "HTTP/1.1 400 Bad Request\r\n\r\n";
  bool ok = warren::fuzz::writeSeed(dir, "server_flight", 0, flight) &&
            warren::fuzz::writeSeed(dir, "server_flight_chunks_13", 13, flight) &&
            warren::fuzz::writeSeed(dir, "server_flight_truncated", 0,
                                    std::span<const uint8_t>(flight).first(flight.size() / 3)) &&
            warren::fuzz::writeSeed(dir, "alert", 0, alert) &&
            warren::fuzz::writeSeed(dir, "http_response", 0,
                                    {reinterpret_cast<const uint8_t*>(http.data()), http.size()});
  return ok ? 0 : 1;
}
