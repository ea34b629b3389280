#include "common/grpc/message_framer.h"

#include <fmt/format.h>

#include <algorithm>

namespace warren::grpc {

MessageReader::MessageReader(size_t max_message_bytes, bool accept_compressed)
    : max_message_bytes_(max_message_bytes), accept_compressed_(accept_compressed) {}

GrpcStatusResult MessageReader::feed(std::span<const uint8_t> bytes, const OnMessage& on_message) {
  auto failWith = [&](GrpcStatus status, std::string message) {
    failed_ = true;
    body_.clear();
    body_.shrink_to_fit();
    return std::unexpected(GrpcError{status, std::move(message)});
  };
  if (failed_) {
    return std::unexpected(GrpcError{GrpcStatus::kInternal, "grpc: message stream already failed"});
  }
  while (!bytes.empty()) {
    if (prefix_fill_ < kMessagePrefixBytes) {
      size_t n = std::min(bytes.size(), kMessagePrefixBytes - prefix_fill_);
      std::copy_n(bytes.begin(), n, prefix_ + prefix_fill_);
      prefix_fill_ += n;
      bytes = bytes.subspan(n);
      if (prefix_fill_ < kMessagePrefixBytes) break;
      uint8_t flag = prefix_[0];
      if (flag > 1) {
        return failWith(GrpcStatus::kInternal,
                        fmt::format("grpc: message flag {:#04x} is neither 0 nor 1", flag));
      }
      if (flag == 1 && !accept_compressed_) {
        return failWith(GrpcStatus::kInternal,
                        "grpc: compressed message but no grpc-encoding this endpoint decodes "
                        "(it accepts identity only)");
      }
      body_expected_ = (size_t{prefix_[1]} << 24) | (size_t{prefix_[2]} << 16) |
                       (size_t{prefix_[3]} << 8) | size_t{prefix_[4]};
      if (body_expected_ > max_message_bytes_) {
        return failWith(GrpcStatus::kResourceExhausted,
                        fmt::format("grpc: received message larger than max ({} vs. {})",
                                    body_expected_, max_message_bytes_));
      }
    }
    // Zero-copy when the whole message is in this input.
    if (body_.empty() && bytes.size() >= body_expected_) {
      on_message(bytes.first(body_expected_), prefix_[0] == 1);
      bytes = bytes.subspan(body_expected_);
    } else {
      size_t n = std::min(bytes.size(), body_expected_ - body_.size());
      body_.insert(body_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      bytes = bytes.subspan(n);
      if (body_.size() < body_expected_) break;
      on_message(body_, prefix_[0] == 1);
      body_.clear();
    }
    ++messages_;
    prefix_fill_ = 0;
    body_expected_ = 0;
  }
  return {};
}

GrpcStatusResult MessageReader::finish() const {
  if (failed_) {
    return std::unexpected(GrpcError{GrpcStatus::kInternal, "grpc: message stream failed"});
  }
  if (prefix_fill_ > 0) {
    return std::unexpected(GrpcError{
        GrpcStatus::kInternal,
        fmt::format("grpc: stream ended inside a message ({} of {} bytes)", bufferedBytes(),
                    prefix_fill_ < kMessagePrefixBytes ? kMessagePrefixBytes
                                                       : kMessagePrefixBytes + body_expected_)});
  }
  return {};
}

void appendMessage(std::vector<uint8_t>& out, std::span<const uint8_t> message) {
  auto n = static_cast<uint32_t>(message.size());
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(n >> 24));
  out.push_back(static_cast<uint8_t>(n >> 16));
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), message.begin(), message.end());
}

}  // namespace warren::grpc
