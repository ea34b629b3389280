// Ciphertext waiting to be sent: one contiguous, reusable byte buffer with a read offset.
// Appends go to the end; sends consume from the front. The storage is kept across drains
// (no allocation per record once warm) and compacted only when the consumed prefix is large,
// so a partially sent buffer is not moved on every append. takeAll() hands the storage itself
// to a sender that needs a buffer of its own (an io_uring send), taking the sender's spent one
// in exchange: two buffers alternate and the ciphertext is not copied again.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace warren::tls {

class OutputBuffer {
 public:
  size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }

  std::span<const uint8_t> data() const {
    return {reinterpret_cast<const uint8_t*>(buf_.data()) + head_, size()};
  }

  void append(const uint8_t* p, size_t n) {
    reclaim();
    const char* c = reinterpret_cast<const char*>(p);
    buf_.insert(buf_.end(), c, c + n);
  }

  // Room for n more bytes without moving what later appends write (a record sealed in place).
  void reserveMore(size_t n) {
    reclaim();
    if (buf_.capacity() - buf_.size() < n)
      buf_.reserve(std::max(buf_.size() + n, 2 * buf_.capacity()));
  }
  // n more bytes at the end, writable (a record's body, encrypted into them). They start as
  // zeros: the vector value-initialises what it grows by, a memset, cheaper than the copy that
  // encrypting in place would need first. Keeping the storage initialised across sends so that
  // nothing is zeroed again (2.4 % of a sending ztunnel is this memset) measured worse: 1 stream
  // -13 % in an interleaved A/B, the sender's CPU per Gbit/s +13 %; likely because the
  // memset's full-line stores claim the lines without reading them, where the cipher's 16-byte
  // stores into lines not in cache read each one first (not measured: no PMU on that machine).
  std::span<uint8_t> grow(size_t n) {
    reclaim();
    buf_.resize(buf_.size() + n);
    return {reinterpret_cast<uint8_t*>(buf_.data()) + buf_.size() - n, n};
  }
  // Takes back the last n bytes appended (a record that failed half way).
  void shrink(size_t n) { buf_.resize(buf_.size() - std::min(n, size())); }

  // Everything pending, as a buffer of its own; `spare` (cleared) becomes the storage for what
  // comes next. Without a consumed prefix the storage is swapped, not copied.
  std::vector<char> takeAll(std::vector<char> spare) {
    spare.clear();
    if (head_ == 0) {
      buf_.swap(spare);
    } else {
      spare.assign(buf_.begin() + static_cast<std::ptrdiff_t>(head_), buf_.end());
      buf_.clear();
      head_ = 0;
    }
    return spare;
  }

  void consume(size_t n) {
    head_ += std::min(n, size());
    if (head_ == buf_.size()) {
      buf_.clear();
      head_ = 0;
    }
  }

  // Gives the storage back when nothing is pending (an idle pooled connection).
  void releaseIfEmpty() {
    if (!empty()) return;
    std::vector<char>().swap(buf_);
    head_ = 0;
  }
  size_t capacity() const { return buf_.capacity(); }

  size_t copyOut(std::span<uint8_t> out) {
    size_t n = std::min(out.size(), size());
    if (n > 0) std::memcpy(out.data(), buf_.data() + head_, n);
    consume(n);
    return n;
  }

 private:
  // Below this the consumed prefix is left in place; moving it would cost more than it saves.
  static constexpr size_t kCompactThreshold = 64 * 1024;

  // Before an append: an emptied buffer starts over, a large consumed prefix is dropped.
  void reclaim() {
    if (head_ == buf_.size()) {
      buf_.clear();
      head_ = 0;
    } else if (head_ >= kCompactThreshold && head_ * 2 >= buf_.size()) {
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  std::vector<char> buf_;
  size_t head_ = 0;
};

}  // namespace warren::tls
