#include "waypoint/proxy/protocol_detector.h"

#include "waypoint/proxy/replay_stream.h"

namespace warren::waypoint {

ProtocolDetector::ProtocolDetector(uring::EventLoop& loop,
                                   std::unique_ptr<relay::ByteStream> stream,
                                   sniff::SniffedProtocol on_silence, OnDetected on_detected)
    : loop_(loop),
      stream_(std::move(stream)),
      on_silence_(on_silence),
      on_detected_(std::move(on_detected)) {}

ProtocolDetector::~ProtocolDetector() {
  *alive_ = false;
  abort();
}

void ProtocolDetector::start() {
  stream_->setEvents(this);
  timer_ = loop_.timeout(kTimeout, [alive = std::weak_ptr<bool>(alive_), this](int res) {
    auto a = alive.lock();
    if (!a || !*a || res != 0) return;
    timer_ = 0;
    if (stream_) decide(on_silence_);
  });
  reading_ = true;
  stream_->read(sniff::kMaxSniffBytes);
}

void ProtocolDetector::abort() {
  if (timer_) loop_.cancel(timer_);
  timer_ = 0;
  on_detected_ = nullptr;
  if (stream_) stream_->close();
  stream_.reset();
}

void ProtocolDetector::onData(std::span<const char> data) {
  reading_ = false;
  first_.append(data.data(), data.size());
  auto p = sniff::sniffProtocol({reinterpret_cast<const uint8_t*>(first_.data()), first_.size()});
  if (p != sniff::SniffedProtocol::kNeedMoreBytes) {
    decide(p);
    return;
  }
  reading_ = true;
  stream_->read(sniff::kMaxSniffBytes - first_.size());  // never 0: kMaxSniffBytes decides
}

void ProtocolDetector::onReadEof() {
  reading_ = false;
  if (first_.empty()) {
    gone("the client closed before sending anything");
    return;
  }
  // Ended before the bytes could tell: whatever they were, a relay carries them and the end.
  auto p = sniff::sniffProtocol({reinterpret_cast<const uint8_t*>(first_.data()), first_.size()});
  decide(p == sniff::SniffedProtocol::kNeedMoreBytes ? sniff::SniffedProtocol::kOpaque : p);
}

void ProtocolDetector::onError(const Error& error) {
  reading_ = false;
  gone("client stream: " + error.message());
}

void ProtocolDetector::decide(sniff::SniffedProtocol p) {
  if (timer_) loop_.cancel(timer_);
  timer_ = 0;
  if (p == sniff::SniffedProtocol::kTls) p = sniff::SniffedProtocol::kOpaque;
  auto replay =
      std::make_unique<ReplayStream>(loop_, std::move(stream_), std::move(first_), reading_);
  auto done = std::move(on_detected_);
  on_detected_ = nullptr;
  if (done) done(p, std::move(replay), sniff::sniffedProtocolName(p));
}

void ProtocolDetector::gone(const std::string& why) {
  if (timer_) loop_.cancel(timer_);
  timer_ = 0;
  auto done = std::move(on_detected_);
  on_detected_ = nullptr;
  if (stream_) {
    stream_->close();
    // Not destroyed inside its own callback.
    loop_.post([gone = std::shared_ptr<relay::ByteStream>(std::move(stream_))] {});
  }
  if (done) done(sniff::SniffedProtocol::kOpaque, nullptr, why);
}

}  // namespace warren::waypoint
