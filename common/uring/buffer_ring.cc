#include "common/uring/buffer_ring.h"

#include <sys/mman.h>

#include <cstring>

namespace warren::uring {

Result<std::unique_ptr<BufferRing>> BufferRing::create(io_uring* ring, uint16_t group_id,
                                                       unsigned count, size_t size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0)
    return fail(Error::invalid("buffer ring count " + std::to_string(count) +
                               " must be a power of two in 1..32768"));
  if (size == 0 || size > (1u << 30)) return fail(Error::invalid("bad buffer ring buffer size"));
  std::unique_ptr<BufferRing> br(new BufferRing());
  br->ring_ = ring;
  br->group_id_ = group_id;
  br->count_ = count;
  br->size_ = size;
  // The ring of descriptors must be page aligned: mmap gives that.
  br->entries_bytes_ = count * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, br->entries_bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return fail(WARREN_SYS_ERROR("mmap buffer ring"));
  br->entries_ = static_cast<io_uring_buf_ring*>(mem);
  br->buffers_bytes_ = count * size;
  mem = ::mmap(nullptr, br->buffers_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
               0);
  if (mem == MAP_FAILED) return fail(WARREN_SYS_ERROR("mmap receive buffers"));
  br->buffers_ = static_cast<char*>(mem);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br->entries_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0)
    return fail(Error::system(-rc,
                              "io_uring_register_buf_ring (provided buffer rings need "
                              "Linux >= 5.19)"));
  br->registered_ = true;
  io_uring_buf_ring_init(br->entries_);
  int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i)
    io_uring_buf_ring_add(br->entries_, br->buffers_ + i * size, static_cast<unsigned>(size),
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  io_uring_buf_ring_advance(br->entries_, static_cast<int>(count));
  return br;
}

void BufferRing::recycle(uint16_t buffer_id) {
  io_uring_buf_ring_add(entries_, buffers_ + static_cast<size_t>(buffer_id) * size_,
                        static_cast<unsigned>(size_), buffer_id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(entries_, 1);
}

BufferRing::~BufferRing() {
  if (registered_) io_uring_unregister_buf_ring(ring_, group_id_);
  if (buffers_) ::munmap(buffers_, buffers_bytes_);
  if (entries_) ::munmap(entries_, entries_bytes_);
}

}  // namespace warren::uring
