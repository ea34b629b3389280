// MessageCounter: counts the Length-Prefixed-Messages (message_framer.h) in a gRPC stream as its
// bytes pass through, without holding any of them: what a proxy needs for
// istio_request_messages_total / istio_response_messages_total. It reads only the 5-byte
// prefixes (at most 5 bytes of state) and skips each message's length; a stream whose bytes do
// not frame (it ended inside a message) is the endpoints' business, not the counter's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/grpc/message_framer.h"

namespace warren::grpc {

class MessageCounter {
 public:
  // The next bytes of the stream, in order.
  void feed(std::span<const uint8_t> bytes);
  // Messages whose prefix arrived (an empty message counts once its prefix is complete).
  uint64_t messages() const { return messages_; }
  // The bytes so far end exactly at a message boundary.
  bool atBoundary() const { return prefix_fill_ == 0 && remaining_ == 0; }

 private:
  uint8_t prefix_[kMessagePrefixBytes] = {};
  size_t prefix_fill_ = 0;
  uint64_t remaining_ = 0;  // bytes of the current message still to skip
  uint64_t messages_ = 0;
};

}  // namespace warren::grpc
