// StreamConduit: one side of an HTTP/1.1 exchange over a relay::ByteStream (the downstream
// HBONE stream, or an upstream one), with bounded buffers both ways. The HTTP session on top
// reads what arrived from `input()` (and erases what its parser consumed), and queues bytes
// with `send()`. Backpressure: the conduit reads only while its owner wants input and the
// unparsed input is under kMaxInput; the owner stops producing (pauses its parser) while
// `sendBuffered()` is over kSendHighWater and resumes at onDrained(). Owners may destroy the
// conduit from any callback.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/relay/byte_stream.h"

namespace warren::waypoint {

class ConduitOwner {
 public:
  virtual ~ConduitOwner() = default;
  virtual void onInput() = 0;     // more bytes in input()
  virtual void onInputEnd() = 0;  // the peer finished sending (EOF)
  virtual void onDrained() = 0;   // a write completed, the queue is at most kSendLowWater
  virtual void onFailed(const Error& error) = 0;  // the stream broke; it is closed
};

class StreamConduit final : private relay::StreamEvents {
 public:
  // Unparsed input held before reading stops (a head bigger than this still parses: the
  // parser gathers it; a body streams through in pieces).
  static constexpr size_t kMaxInput = 64 * 1024;
  // Queued output over which the producer pauses, and the level at which it resumes: the
  // relay's largest copy tier (common/relay/stream_relay.h), so an HTTP exchange holds about
  // what a TCP relay does.
  static constexpr size_t kSendHighWater = 256 * 1024;
  static constexpr size_t kSendLowWater = kSendHighWater / 2;

  StreamConduit(std::unique_ptr<relay::ByteStream> stream, ConduitOwner* owner);
  ~StreamConduit() override;
  StreamConduit(const StreamConduit&) = delete;
  StreamConduit& operator=(const StreamConduit&) = delete;

  void setOwner(ConduitOwner* owner) { owner_ = owner; }
  // Reads while wanted (and input is below kMaxInput); call again after consuming input.
  void wantInput(bool want);
  std::string& input() { return input_; }
  bool inputEnded() const { return eof_; }

  void send(std::string_view bytes);
  // Between cork() and uncork(), send() only queues: what a parse step answers (an HTTP/1
  // response's head, body and end) goes to the stream as one write, one TLS record and one
  // send, instead of the head alone and the rest after the head's write completed.
  void cork() { corked_ = true; }
  void uncork() {
    corked_ = false;
    pumpWrite();
  }
  size_t sendBuffered() const { return pending_.size() + in_flight_; }
  bool overHighWater() const { return sendBuffered() > kSendHighWater; }
  // Half-close after what is queued (FIN / END_STREAM).
  void finishSending();
  void close();
  bool closed() const { return closed_; }
  std::string describe() const { return stream_ ? stream_->describe() : "closed"; }
  uint64_t bytesIn() const { return bytes_in_; }
  uint64_t bytesOut() const { return bytes_out_; }
  // Kept until the conduit is destroyed: what an upstream connection counts against (its
  // Service's connection limit, Upstreams' ConnectionLease).
  void hold(std::shared_ptr<void> token) { held_ = std::move(token); }

 private:
  void onData(std::span<const char> data) override;
  void onReadEof() override;
  void onWritten(size_t bytes, uring::Buffer spent) override;
  void onError(const Error& error) override;
  void pumpRead();
  void pumpWrite();

  std::unique_ptr<relay::ByteStream> stream_;
  ConduitOwner* owner_;
  std::string input_;
  std::string pending_;
  uring::Buffer spare_;
  size_t in_flight_ = 0;
  bool corked_ = false;
  bool want_input_ = false;
  bool reading_ = false;
  bool eof_ = false;
  bool finish_ = false;
  bool shut_ = false;
  bool closed_ = false;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  // Owners may destroy the conduit from their callbacks.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<void> held_;
};

}  // namespace warren::waypoint
