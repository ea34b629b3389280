// fuzz-link: warren_http2
//
// Bytes from the network into the sans-I/O HTTP/2 engine (common/http2), in either role:
//
//   byte 0, bit 0 = 0: server. The rest is everything a client sends (connection preface
//                      included), as ztunnel's 15008 and a waypoint receive it.
//   byte 0, bit 0 = 1: client. The session has opened two CONNECT streams; the rest is what
//                      the server answers, as ztunnel's pooled outbound connections receive it.
//   byte 0, bits 1-7:  the size of the pieces the rest is fed in (1 + 13 * n bytes), so frame
//                      reassembly across dispatch() calls is fuzzed too.
//   an input of odd length: the session sends through a frame sink (setFrameSink/sendFrames,
//                      as HBONE connections do) whose room is a frame or two per round, so
//                      frames it refuses wait and resume; every frame must arrive whole.
//
// The application side behaves like ztunnel's for CONNECT (answered 200) and like the waypoint's
// for ordinary requests (answered 200 with a body to follow, ended by trailers): DATA is echoed
// as far as the send buffer takes it, and consumed one piece late so unconsumed bytes and
// window credit are exercised; END_STREAM is answered with closeWrite (CONNECT) or
// sendTrailers (ordinary); then keep-alive, a write on every open stream and GOAWAY run.
//
// Invariants (abort on failure): no crash or sanitizer report; requests only reach a server
// and responses only a client; an ordinary request reaching the application passes
// parseRequestHead; trailers carry no pseudo-header field; no event for a stream after its
// onStreamClose; unconsumed bytes never exceed the stream window; the output buffer stays within
// its bound; a session whose dispatch failed is closed once its output is flushed; the engine's own
// nghttp2 memory stays within max_session_memory.
//
//   h2_session_fuzz --make-seeds DIR   writes real exchanges of both roles (fuzz/replay_main.cc)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/http2/session.h"
#include "fuzz/invariant.h"
#include "fuzz/seed_file.h"

namespace {

using namespace warren;
using http2::HeaderList;
using http2::Role;
using http2::Session;
using http2::StreamId;

void check(bool ok, const char* what) { fuzz::invariant(ok, "h2_session_fuzz", what); }

http2::SessionConfig fuzzConfig() {
  http2::SessionConfig c;
  // Small windows, frames and buffers, so flow control and the bounds are reached by short
  // inputs (16 KiB is the smallest SETTINGS_MAX_FRAME_SIZE RFC 9113 allows).
  c.stream_window = 16 << 10;
  c.connection_window = 32 << 10;
  c.max_frame_size = 16 << 10;
  c.stream_send_buffer = 8 << 10;
  c.max_output_buffer = 16 << 10;
  c.max_concurrent_streams = 8;
  return c;
}

// The application on top of the session: answers, echoes, consumes one piece late.
class FuzzApp : public http2::SessionCallbacks {
 public:
  FuzzApp(Role role, const http2::SessionConfig& config) : role_(role), config_(config) {}
  Session* session = nullptr;
  std::set<StreamId> open;

  void onRequest(StreamId id, const HeaderList& headers) override {
    check(role_ == Role::kServer, "a request reached a client");
    alive(id);
    open.insert(id);
    const std::string* method = http2::findHeader(headers, ":method");
    if (method && *method == "CONNECT") {
      (void)session->respond(id, 200);
      return;
    }
    check(http2::parseRequestHead(headers).has_value(),
          "a malformed request reached the application");
    ordinary_.insert(id);
    (void)session->respond(id, 200, {{"content-type", "text/plain"}}, http2::Body::kFollows);
  }
  void onTrailers(StreamId id, const HeaderList& trailers) override {
    alive(id);
    for (const auto& h : trailers) check(!h.name.starts_with(':'), "a pseudo-header in trailers");
  }
  void onResponse(StreamId id, int status, const HeaderList&) override {
    check(role_ == Role::kClient, "a response reached a server");
    check(status >= 200 && status <= 599, "a response status that is not final");
    alive(id);
  }
  void onData(StreamId id, std::span<const uint8_t> data) override {
    alive(id);
    pending_[id] += data.size();
    check(session->unconsumedBytes(id) <= config_.stream_window, "unconsumed beyond the window");
    (void)session->writeData(id, data);  // what fits; the rest is dropped (and consumed)
  }
  void onEndOfStream(StreamId id) override {
    alive(id);
    if (ordinary_.contains(id)) {
      (void)session->sendTrailers(id, {{"x-echoed", "1"}});
    } else {
      (void)session->closeWrite(id);
    }
  }
  void onStreamClose(StreamId id, uint32_t) override {
    alive(id);
    closed_.insert(id);
    open.erase(id);
  }
  void onStreamWritable(StreamId id) override { alive(id); }
  void onGoAway(uint32_t, uint32_t) override {}

  // Credit what the previous piece delivered (the application "wrote it out" since).
  void consumeLate() {
    for (auto& [id, n] : pending_) session->consume(id, n);
    pending_.clear();
  }

 private:
  void alive(StreamId id) { check(!closed_.contains(id), "event after onStreamClose"); }

  Role role_;
  http2::SessionConfig config_;
  std::map<StreamId, size_t> pending_;
  std::set<StreamId> closed_;
  std::set<StreamId> ordinary_;  // requests that are not CONNECT
};

const HeaderList& connectHeaders(int n) {
  static const HeaderList a = {{":method", "CONNECT"}, {":authority", "10.0.0.2:8080"}};
  static const HeaderList b = {
      {":method", "CONNECT"}, {":authority", "[fd00::2]:443"}, {"baggage", "k8s.namespace.name=f"}};
  return n == 0 ? a : b;
}

// Takes whole frames while it has room; each call must be exactly one frame, its pieces adding
// up to what its 9-byte header says (the client's first also carries the connection preface).
struct CheckingSink : http2::FrameSink {
  size_t room = 0;
  size_t taken = 0;
  bool takeFrame(std::span<const std::span<const uint8_t>> pieces) override {
    std::string bytes;
    for (auto piece : pieces)
      bytes.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    std::string_view frame = bytes;
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (taken == 0 && frame.starts_with(kPreface)) frame.remove_prefix(kPreface.size());
    if (!frame.empty()) {
      check(frame.size() >= 9, "a frame given to the sink is shorter than a frame header");
      auto at = [&](size_t i) { return size_t{static_cast<uint8_t>(frame[i])}; };
      size_t length = (at(0) << 16) | (at(1) << 8) | at(2);
      check(frame.size() == 9 + length,
            "a frame given to the sink in pieces is not one whole frame");
    }
    if (bytes.size() > room) return false;
    room -= bytes.size();
    taken += bytes.size();
    return true;
  }
};

void drain(Session& s, const http2::SessionConfig& config, CheckingSink* sink) {
  if (sink != nullptr) {
    // Rounds alternate between room for one frame of our size (a larger one waits) and room
    // for everything, so what is refused resumes later and every frame goes eventually.
    for (int i = 0; i < 64 && s.wantsWrite(); ++i) {
      bool unbounded = i % 2 == 1;
      sink->room = unbounded ? SIZE_MAX : config.max_frame_size + 9;
      size_t before = sink->taken;
      s.sendFrames();
      check(s.outputBufferBytes() == 0, "output buffered beside a frame sink");
      if (unbounded && sink->taken == before) break;
    }
    return;
  }
  for (int i = 0; i < 64 && s.wantsWrite(); ++i) {
    auto out = s.pendingOutput();
    check(out.size() <= config.max_output_buffer + config.max_frame_size + 9,
          "output beyond its bound");
    if (out.empty()) break;
    s.drainOutput(out.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Role role = (data[0] & 1) ? Role::kClient : Role::kServer;
  const size_t step = 1 + 13 * static_cast<size_t>(data[0] >> 1);
  const http2::SessionConfig config = fuzzConfig();
  FuzzApp app(role, config);
  http2::TimePoint t0{};
  auto created = Session::create(role, config, app, t0);
  check(created.has_value(), "session creation failed");
  Session& s = **created;
  app.session = &s;
  CheckingSink checking_sink;
  CheckingSink* sink = size % 2 == 1 ? &checking_sink : nullptr;
  if (sink != nullptr) s.setFrameSink(sink);
  if (role == Role::kClient) {
    for (int i = 0; i < 2; ++i) {
      auto id = s.openStream(connectHeaders(i));
      check(id.has_value(), "openStream on a fresh client session failed");
      app.open.insert(*id);
    }
  }
  drain(s, config, sink);

  std::span<const uint8_t> rest(data + 1, size - 1);
  bool failed = false;
  while (!rest.empty() && !failed) {
    auto piece = rest.first(std::min(step, rest.size()));
    rest = rest.subspan(piece.size());
    failed = !s.dispatch(piece).has_value();
    drain(s, config, sink);
    app.consumeLate();
  }
  check(s.nghttp2MemoryBytes() <= config.max_session_memory, "nghttp2 memory beyond its cap");
  if (failed) {
    drain(s, config, sink);
    check(s.isClosed(), "a failed session is not closed once flushed");
    return 0;
  }
  (void)s.onTimer(t0 + std::chrono::seconds(15));  // a PING is due
  static const uint8_t kPayload[100] = {};
  for (StreamId id : std::set<StreamId>(app.open)) (void)s.writeData(id, kPayload);
  drain(s, config, sink);
  (void)s.onTimer(t0 + std::chrono::seconds(60));  // its ACK is overdue
  s.goAway();
  drain(s, config, sink);
  (void)s.dumpState();
  return 0;
}

// --make-seeds DIR: real exchanges, each side recorded while a client and a server session
// talk in memory (the server answers as the fuzz app does).
namespace {

struct Recorded {
  std::string from_client, from_server;
};

class SeedApp : public http2::SessionCallbacks {
 public:
  Session* session = nullptr;
  int status = 200;
  bool echo = true;
  bool trailers = false;  // answer with a body and end it with trailers (ordinary requests)
  void onRequest(StreamId id, const HeaderList&) override {
    if (trailers) {
      (void)session->respond(id, status, {{"content-type", "text/plain"}}, http2::Body::kFollows);
    } else {
      (void)session->respond(id, status);
    }
  }
  void onResponse(StreamId, int, const HeaderList&) override {}
  void onData(StreamId id, std::span<const uint8_t> d) override {
    if (echo) (void)session->writeData(id, d);
    session->consume(id, d.size());
  }
  void onEndOfStream(StreamId id) override {
    if (trailers) {
      (void)session->sendTrailers(id, {{"grpc-status", "0"}});
    } else {
      (void)session->closeWrite(id);
    }
  }
  void onStreamClose(StreamId, uint32_t) override {}
  void onStreamWritable(StreamId) override {}
  void onGoAway(uint32_t, uint32_t) override {}
};

struct SeedPair {
  http2::SessionConfig config = fuzzConfig();
  SeedApp client_app, server_app;
  std::unique_ptr<Session> client, server;
  Recorded rec;
  SeedPair() {
    client_app.echo = false;  // the server echoes; the client only reads
    client = std::move(*Session::create(Role::kClient, config, client_app, {}));
    server = std::move(*Session::create(Role::kServer, config, server_app, {}));
    client_app.session = client.get();
    server_app.session = server.get();
  }
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool moved = false;
      for (auto [from, to, log] : {std::tuple{client.get(), server.get(), &rec.from_client},
                                   std::tuple{server.get(), client.get(), &rec.from_server}}) {
        auto out = from->pendingOutput();
        if (out.empty()) continue;
        log->append(reinterpret_cast<const char*>(out.data()), out.size());
        (void)to->dispatch(out);
        from->drainOutput(out.size());
        moved = true;
      }
      if (!moved) return;
    }
  }
};

bool both(const std::string& dir, const std::string& name, const Recorded& r, uint8_t step = 0) {
  return warren::fuzz::writeSeed(dir, "server_" + name, static_cast<uint8_t>(step << 1),
                                 r.from_client) &&
         warren::fuzz::writeSeed(dir, "client_" + name, static_cast<uint8_t>((step << 1) | 1),
                                 r.from_server);
}

}  // namespace

extern "C" int WarrenFuzzMakeSeeds(const char* dir_arg) {
  const std::string dir = dir_arg;
  static const uint8_t kBytes[1000] = {1, 2, 3};
  bool ok = true;
  {  // Two tunnels (the client fuzz app opens two), data both ways, half-close, GOAWAY.
    SeedPair p;
    auto a = p.client->openStream(connectHeaders(0));
    auto b = p.client->openStream(connectHeaders(1));
    p.pump();
    (void)p.client->writeData(*a, kBytes);
    (void)p.client->writeData(*b, std::span<const uint8_t>(kBytes).first(10));
    p.pump();
    (void)p.client->closeWrite(*a);
    (void)p.client->resetStream(*b);
    p.pump();
    p.server->goAway();
    p.pump();
    ok &= both(dir, "tunnels", p.rec);
    ok &= both(dir, "tunnels_step_3", p.rec, 3);
  }
  {  // Refused: 503 to both.
    SeedPair p;
    p.server_app.status = 503;
    (void)p.client->openStream(connectHeaders(0));
    (void)p.client->openStream(connectHeaders(1));
    p.pump();
    ok &= both(dir, "refused", p.rec);
  }
  {  // Keep-alive PING and its ACK, then a GOAWAY with an error.
    SeedPair p;
    (void)p.client->openStream(connectHeaders(0));
    (void)p.client->openStream(connectHeaders(1));
    p.pump();
    (void)p.client->onTimer(http2::TimePoint{} + std::chrono::seconds(11));
    (void)p.server->onTimer(http2::TimePoint{} + std::chrono::seconds(11));
    p.pump();
    p.client->goAway(http2::kProtocolError);
    p.server->goAway(http2::kEnhanceYourCalm);
    p.pump();
    ok &= both(dir, "ping_goaway", p.rec);
  }
  {  // Flow control: more than a window one way, no echo.
    SeedPair p;
    p.server_app.echo = false;
    auto a = p.client->openStream(connectHeaders(0));
    (void)p.client->openStream(connectHeaders(1));
    p.pump();
    for (int i = 0; i < 24; ++i) {
      (void)p.client->writeData(*a, kBytes);
      p.pump();
    }
    ok &= both(dir, "window", p.rec);
  }
  {  // Ordinary requests: a GET (END_STREAM on HEADERS) and a POST with a body and trailers,
     // answered 200 with the body echoed and trailers.
    SeedPair p;
    p.server_app.trailers = true;
    (void)p.client->openStream(
        {{":method", "GET"}, {":scheme", "http"}, {":authority", "echo.test"}, {":path", "/a?b=c"}},
        http2::Body::kNone);
    auto post = p.client->openStream({{":method", "POST"},
                                      {":scheme", "http"},
                                      {":authority", "echo.test"},
                                      {":path", "/pkg.Svc/Method"},
                                      {"content-type", "application/grpc"},
                                      {"te", "trailers"}},
                                     http2::Body::kFollows);
    (void)p.client->writeData(*post, std::span<const uint8_t>(kBytes).first(100));
    (void)p.client->sendTrailers(*post, {{"x-sum", "100"}});
    p.pump();
    ok &= both(dir, "requests_trailers", p.rec);
  }
  return ok ? 0 : 1;
}
