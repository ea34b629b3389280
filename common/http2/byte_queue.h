// A FIFO of bytes with a fixed capacity: appends take what fits, reads come from the front.
// Backs each stream's send buffer, so its capacity is the send-side high watermark.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace warren::http2 {

class ByteQueue {
 public:
  explicit ByteQueue(size_t capacity) : capacity_(capacity) {}

  // Appends as much of `data` as fits; returns how many bytes were taken.
  size_t append(std::span<const uint8_t> data);
  // The bytes at the front (contiguous).
  std::span<const uint8_t> front() const { return {buf_.data() + head_, size()}; }
  // Drops n bytes from the front (n <= size()).
  void drop(size_t n);
  void clear();

  size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }
  size_t capacity() const { return capacity_; }
  size_t space() const { return capacity_ - size(); }

 private:
  std::vector<uint8_t> buf_;
  size_t head_ = 0;  // bytes before head_ were already read
  size_t capacity_;
};

}  // namespace warren::http2
