// ProtocolDetector: what a client speaks inside its CONNECT stream, from its first bytes
// (common/sniff), for a Service port whose protocol is not declared, and for an `http` port,
// where a client may also open with the HTTP/2 preface (h2c with prior knowledge), as Envoy's
// codec_type AUTO lets it. The CONNECT has been answered 200 already (the client sends nothing
// before); the detector reads at most sniff::kMaxSniffBytes, then hands the stream on with
// those bytes to be read again (ReplayStream), so the session or relay chosen sees the
// stream from its first byte.
//
// A client that sends nothing for kTimeout gets the port's fallback (server-first protocols,
// such as MySQL or SMTP, speak only when answered): TCP for an undeclared port, HTTP/1.1 for an
// `http` one. A client that ends or breaks the stream before a decision is closed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/relay/byte_stream.h"
#include "common/sniff/protocol_sniffer.h"
#include "common/uring/event_loop.h"

namespace warren::waypoint {

class ProtocolDetector final : private relay::StreamEvents {
 public:
  // How long a silent client may wait before its port's fallback applies. Istio's
  // protocolDetectionTimeout was 100 ms before it was disabled by default (a slow client was
  // taken for TCP); one second keeps slow clients on their protocol and delays a server-first
  // protocol's greeting once per connection. A client taken for TCP still works, without L7.
  static constexpr std::chrono::milliseconds kTimeout{1000};

  // `protocol` is kHttp2, kHttp1 or kOpaque (TLS and anything else: a relay carries it); null
  // stream: the client went away first (why says how).
  using OnDetected =
      std::function<void(sniff::SniffedProtocol protocol, std::unique_ptr<relay::ByteStream> stream,
                         const std::string& why)>;

  ProtocolDetector(uring::EventLoop& loop, std::unique_ptr<relay::ByteStream> stream,
                   sniff::SniffedProtocol on_silence, OnDetected on_detected);
  ~ProtocolDetector() override;
  void start();
  // Ends now (worker stopping); on_detected is not called.
  void abort();

 private:
  void onData(std::span<const char> data) override;
  void onReadEof() override;
  void onWritten(size_t, uring::Buffer) override {}
  void onError(const Error& error) override;
  void decide(sniff::SniffedProtocol p);
  void gone(const std::string& why);

  uring::EventLoop& loop_;
  std::unique_ptr<relay::ByteStream> stream_;
  sniff::SniffedProtocol on_silence_;
  OnDetected on_detected_;
  std::string first_;
  bool reading_ = false;
  uring::OpId timer_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::waypoint
