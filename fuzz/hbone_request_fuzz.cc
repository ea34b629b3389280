// fuzz-link: warren_hbone warren_http2
//
// Bytes from the network into ztunnel's HBONE server path: the input is fed as HTTP/2 frames
// (after a fixed client preface) to a server Session whose requests go through HBONE
// validation and get answered, with data echoed and consumed under the backpressure
// contract; then keep-alive and GOAWAY run. The same bytes also go through the header
// parsers. Invariants checked: no crash, no sanitizer report, output within its bound.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "common/hbone/address.h"
#include "common/hbone/connect_request.h"
#include "common/hbone/inbound_validation.h"
#include "common/http2/session.h"

namespace {

using namespace warren;

class FuzzServer : public http2::SessionCallbacks {
 public:
  http2::Session* session = nullptr;

  void onRequest(http2::StreamId id, const http2::HeaderList& headers) override {
    hbone::InboundContext ctx;
    ctx.local_ip = hbone::IpAddress::parse("10.0.0.2").value();
    ctx.is_waypoint_for = [](const hbone::IpAddress& ip) { return ip.toString() == "10.96.0.1"; };
    auto d = hbone::validateInbound(headers, ctx);
    (void)session->respond(id, d.status());
  }
  void onResponse(http2::StreamId, int, const http2::HeaderList&) override {}
  void onData(http2::StreamId id, std::span<const uint8_t> data) override {
    (void)session->writeData(id, data);  // echo what fits
    session->consume(id, data.size());
  }
  void onEndOfStream(http2::StreamId id) override { (void)session->closeWrite(id); }
  void onStreamClose(http2::StreamId, uint32_t) override {}
  void onStreamWritable(http2::StreamId) override {}
  void onGoAway(uint32_t, uint32_t) override {}
};

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)hbone::parseAuthority(text);
  (void)hbone::parseBaggage(text);
  (void)hbone::parseForwarded(text);
  (void)hbone::TraceParent::parse(text);

  http2::SessionConfig config;
  config.max_output_buffer = 64 << 10;
  FuzzServer events;
  http2::TimePoint t0{};
  auto s = http2::Session::create(http2::Role::kServer, config, events, t0);
  check(s.has_value());
  http2::Session& session = **s;
  events.session = &session;

  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::span<const uint8_t> preface(reinterpret_cast<const uint8_t*>(kPreface.data()),
                                   kPreface.size());
  check(session.dispatch(preface).has_value());
  // Feed in pieces whose sizes come from the input itself, draining output in between.
  std::span<const uint8_t> rest(data, size);
  size_t step = size > 0 ? 1 + data[0] * 7 : 1;
  while (!rest.empty()) {
    auto piece = rest.first(std::min(step, rest.size()));
    rest = rest.subspan(piece.size());
    auto st = session.dispatch(piece);
    auto out = session.pendingOutput();
    check(out.size() <= config.max_output_buffer + config.max_frame_size + 9);
    session.drainOutput(out.size());
    if (!st) break;
  }
  (void)session.onTimer(t0 + std::chrono::seconds(10));
  session.goAway();
  for (int i = 0; i < 64 && session.wantsWrite(); ++i) {
    auto out = session.pendingOutput();
    session.drainOutput(out.size());
  }
  return 0;
}
