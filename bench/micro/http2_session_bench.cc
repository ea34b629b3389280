// bench-link: warren_http2
//
// The HTTP/2 engine alone, client and server paired in memory (no TLS, no sockets): bulk
// throughput through one CONNECT stream, and the cost of opening + closing a tunnel.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "common/http2/session.h"

namespace {

using namespace warren::http2;

class Sink : public SessionCallbacks {
 public:
  Session* session = nullptr;
  bool answer = false;
  uint64_t bytes = 0;
  int responses = 0;
  int closes = 0;
  void onRequest(StreamId id, const HeaderList&) override {
    if (answer) (void)session->respond(id, 200);
  }
  void onResponse(StreamId, int, const HeaderList&) override { ++responses; }
  void onData(StreamId id, std::span<const uint8_t> d) override {
    bytes += d.size();
    session->consume(id, d.size());
  }
  void onEndOfStream(StreamId id) override { (void)session->closeWrite(id); }
  void onStreamClose(StreamId, uint32_t) override { ++closes; }
  void onStreamWritable(StreamId) override {}
  void onGoAway(uint32_t, uint32_t) override {}
};

struct Pair {
  Pair() {
    server_events.answer = true;
    client = Session::create(Role::kClient, {}, client_events, {}).value();
    server = Session::create(Role::kServer, {}, server_events, {}).value();
    client_events.session = client.get();
    server_events.session = server.get();
  }
  bool move(Session& from, Session& to) {
    auto out = from.pendingOutput();
    if (out.empty()) return false;
    (void)to.dispatch(out);
    from.drainOutput(out.size());
    return true;
  }
  void pump() {
    while (move(*client, *server) | move(*server, *client)) {
    }
  }
  Sink client_events, server_events;
  std::unique_ptr<Session> client, server;
};

void BM_TunnelThroughput(benchmark::State& state) {
  Pair p;
  StreamId id =
      p.client->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}}).value();
  p.pump();
  std::vector<uint8_t> chunk(static_cast<size_t>(state.range(0)), 0x5a);
  for (auto _ : state) {
    size_t off = 0;
    while (off < chunk.size()) {
      off += p.client->writeData(id, std::span(chunk).subspan(off)).value();
      p.pump();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_TunnelThroughput)->Arg(16 << 10)->Arg(256 << 10)->Arg(1 << 20);

void BM_OpenAndCloseTunnel(benchmark::State& state) {
  Pair p;
  for (auto _ : state) {
    if (!p.client->canOpenStream()) state.SkipWithError("cannot open");
    StreamId id =
        p.client->openStream({{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}}).value();
    (void)p.client->closeWrite(id);
    p.pump();
  }
}
BENCHMARK(BM_OpenAndCloseTunnel);

}  // namespace
