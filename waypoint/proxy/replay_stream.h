// ReplayStream: a relay::ByteStream that first gives back bytes already read from the stream it
// wraps (what ProtocolDetector read to tell the protocol), then passes everything through. So
// the session or relay chosen afterwards reads the stream from its first byte, through the
// same ByteStream contract (events asynchronous, one read outstanding, read credit = backpressure).
// A read the detector left outstanding on the inner stream is adopted: its bytes join the
// replayed ones.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/relay/byte_stream.h"
#include "common/uring/event_loop.h"

namespace warren::waypoint {

class ReplayStream final : public relay::ByteStream, private relay::StreamEvents {
 public:
  // `inner_reading`: a read() on `inner` is outstanding (its answer comes here).
  ReplayStream(uring::EventLoop& loop, std::unique_ptr<relay::ByteStream> inner, std::string replay,
               bool inner_reading);
  ~ReplayStream() override;

  void setEvents(relay::StreamEvents* events) override { events_ = events; }
  void read(size_t max_bytes) override;
  void write(uring::Buffer data) override { inner_->write(std::move(data)); }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void close() override;
  std::string describe() const override { return inner_->describe(); }

 private:
  // From the inner stream.
  void onData(std::span<const char> data) override;
  void onReadEof() override;
  void onWritten(size_t bytes, uring::Buffer spent) override;
  // Without a user nobody gets onWritten, so nothing waits for it.
  bool waitsForWrite() override { return events_ && events_->waitsForWrite(); }
  void onError(const Error& error) override;

  void deliverLater();
  void deliver();

  uring::EventLoop& loop_;
  std::unique_ptr<relay::ByteStream> inner_;
  relay::StreamEvents* events_ = nullptr;
  std::string buffered_;  // read from the inner stream, not yet delivered
  size_t wanted_ = 0;     // the outstanding read's max (0: none)
  bool inner_reading_ = false;
  bool eof_ = false;
  std::optional<Error> error_;
  bool closed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::waypoint
