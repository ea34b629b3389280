#include "common/grpc/message_counter.h"

#include <algorithm>

namespace warren::grpc {

void MessageCounter::feed(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    if (remaining_ > 0) {
      size_t skip = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
      remaining_ -= skip;
      bytes = bytes.subspan(skip);
      continue;
    }
    size_t take = std::min(kMessagePrefixBytes - prefix_fill_, bytes.size());
    std::copy_n(bytes.begin(), take, prefix_ + prefix_fill_);
    prefix_fill_ += take;
    bytes = bytes.subspan(take);
    if (prefix_fill_ < kMessagePrefixBytes) return;
    prefix_fill_ = 0;
    ++messages_;
    remaining_ = (uint64_t{prefix_[1]} << 24) | (uint64_t{prefix_[2]} << 16) |
                 (uint64_t{prefix_[3]} << 8) | uint64_t{prefix_[4]};
  }
}

}  // namespace warren::grpc
