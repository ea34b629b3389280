#include "common/http2/byte_queue.h"

#include <algorithm>
#include <cstring>

namespace warren::http2 {

size_t ByteQueue::append(std::span<const uint8_t> data) {
  size_t n = std::min(data.size(), space());
  if (n == 0) return 0;
  // Reclaim the consumed prefix before growing, so the vector never exceeds the capacity.
  if (head_ > 0 && buf_.size() + n > capacity_) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  // Grow geometrically but never past the capacity (vector's own policy could double past it).
  if (buf_.capacity() < buf_.size() + n) {
    buf_.reserve(std::min(capacity_, std::max(buf_.capacity() * 2, buf_.size() + n)));
  }
  buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

void ByteQueue::drop(size_t n) {
  head_ += std::min(n, size());
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
}

void ByteQueue::clear() {
  buf_.clear();
  buf_.shrink_to_fit();
  head_ = 0;
}

}  // namespace warren::http2
