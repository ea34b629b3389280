// gRPC's Length-Prefixed-Message framing (the gRPC "PROTOCOL-HTTP2" spec): each message in the
// DATA of a gRPC stream is
//
//   Compressed-Flag (1 byte: 0 = as is, 1 = compressed with the stream's grpc-encoding)
//   Message-Length  (4 bytes, big-endian)
//   Message         (Message-Length bytes)
//
// and messages may be split across DATA frames or share one. MessageReader decodes a stream of
// such bytes as it arrives (sans-I/O: bytes in, whole messages out through a callback),
// holding at most one partial message, bounded by max_message_bytes. appendMessage encodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/grpc/status.h"

namespace warren::grpc {

// 5 bytes of prefix before each message.
inline constexpr size_t kMessagePrefixBytes = 5;
// gRPC's default limit on a received message (grpc-go/grpc-core: 4 MiB).
inline constexpr size_t kDefaultMaxMessageBytes = 4u << 20;

// Why a gRPC stream cannot go on: the status to end the call with and its message.
struct GrpcError {
  GrpcStatus status;
  std::string message;
};
using GrpcStatusResult = std::expected<void, GrpcError>;

class MessageReader {
 public:
  // Called once per complete message. `compressed` is the flag (only ever true when compressed
  // messages are accepted). The bytes are valid during the call only.
  using OnMessage = std::function<void(std::span<const uint8_t> message, bool compressed)>;

  // accept_compressed: the stream negotiated a grpc-encoding the application can decode; when
  // false a message with the flag set ends the stream (INTERNAL, as the spec asks of a flag
  // without an encoding).
  explicit MessageReader(size_t max_message_bytes = kDefaultMaxMessageBytes,
                         bool accept_compressed = false);

  // Decodes `bytes`, calling on_message for each message they complete. An error ends the
  // stream; the reader then refuses further input:
  //  - a message longer than max_message_bytes: RESOURCE_EXHAUSTED (what gRPC libraries send);
  //  - the compressed flag when not accepted: INTERNAL;
  //  - a flag other than 0 or 1: INTERNAL.
  GrpcStatusResult feed(std::span<const uint8_t> bytes, const OnMessage& on_message);

  // The peer ended the stream: an incomplete message left over is an error (INTERNAL).
  GrpcStatusResult finish() const;

  // Bytes held of the current incomplete message (prefix included).
  size_t bufferedBytes() const { return prefix_fill_ + body_.size(); }
  uint64_t messagesRead() const { return messages_; }

 private:
  size_t max_message_bytes_;
  bool accept_compressed_;
  uint8_t prefix_[kMessagePrefixBytes] = {};
  size_t prefix_fill_ = 0;
  size_t body_expected_ = 0;  // valid once the prefix is complete
  std::vector<uint8_t> body_;
  uint64_t messages_ = 0;
  bool failed_ = false;
};

// Appends `message` with its 5-byte prefix (uncompressed) to `out`.
void appendMessage(std::vector<uint8_t>& out, std::span<const uint8_t> message);

}  // namespace warren::grpc
