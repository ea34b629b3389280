// BufferRing: an io_uring provided-buffer ring (IORING_REGISTER_PBUF_RING) and the memory of
// its buffers, registered on construction and unregistered/freed on destruction. Receives
// pick a buffer only when data arrives, so idle connections hold no receive memory. When the
// ring runs dry the kernel answers -ENOBUFS: flow control, the loop re-arms.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "common/error.h"

namespace warren::uring {

class BufferRing {
 public:
  // `count` must be a power of two (<= 32768); buffers are `size` bytes each.
  static Result<std::unique_ptr<BufferRing>> create(io_uring* ring, uint16_t group_id,
                                                    unsigned count, size_t size);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t groupId() const { return group_id_; }
  size_t bufferSize() const { return size_; }
  unsigned count() const { return count_; }
  std::span<const char> data(uint16_t buffer_id, size_t len) const {
    return {buffers_ + static_cast<size_t>(buffer_id) * size_, len};
  }
  // The ring fd was closed first (loop teardown): skip the unregister syscall.
  void ringClosed() { registered_ = false; }
  // Gives a buffer back to the kernel (after its data was consumed).
  void recycle(uint16_t buffer_id);

 private:
  BufferRing() = default;
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* entries_ = nullptr;
  size_t entries_bytes_ = 0;
  char* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  uint16_t group_id_ = 0;
  unsigned count_ = 0;
  size_t size_ = 0;
  bool registered_ = false;
};

}  // namespace warren::uring
