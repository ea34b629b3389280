#include "common/http2/byte_queue.h"

#include <algorithm>
#include <cstring>

namespace warren::http2 {

size_t ByteQueue::append(std::span<const uint8_t> data) {
  size_t n = std::min(data.size(), space());
  if (n == 0) return 0;
  if (buf_.size() < size_ + n) grow(size_ + n);
  size_t tail = (head_ + size_) % buf_.size();
  size_t first = std::min(n, buf_.size() - tail);
  std::memcpy(buf_.data() + tail, data.data(), first);
  if (n > first) std::memcpy(buf_.data(), data.data() + first, n - first);
  size_ += n;
  return n;
}

void ByteQueue::grow(size_t need) {
  // Geometric growth, never past the capacity; the live bytes land at the start.
  std::vector<uint8_t> next(std::min(capacity_, std::max(need, 2 * buf_.size())));
  size_t at = 0;
  for (auto part : front(size_)) {
    if (part.empty()) continue;
    std::memcpy(next.data() + at, part.data(), part.size());
    at += part.size();
  }
  buf_.swap(next);
  head_ = 0;
}

std::array<std::span<const uint8_t>, 2> ByteQueue::front(size_t n) const {
  n = std::min(n, size_);
  if (n == 0) return {};
  size_t first = std::min(n, buf_.size() - head_);
  return {std::span<const uint8_t>(buf_.data() + head_, first),
          std::span<const uint8_t>(buf_.data(), n - first)};
}

void ByteQueue::drop(size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  head_ = size_ == 0 ? 0 : (head_ + n) % buf_.size();
}

void ByteQueue::clear() {
  std::vector<uint8_t>().swap(buf_);
  head_ = 0;
  size_ = 0;
}

}  // namespace warren::http2
