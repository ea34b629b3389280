// The allocator nghttp2 uses for one session: counts the bytes it holds and refuses to go past
// a cap, so a hostile peer cannot make one connection's HTTP/2 state grow without bound, and
// tests can assert the memory a flood costs.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>

namespace warren::http2 {

class SessionAllocator {
 public:
  explicit SessionAllocator(size_t cap);
  SessionAllocator(const SessionAllocator&) = delete;
  SessionAllocator& operator=(const SessionAllocator&) = delete;

  // The table to hand to nghttp2_session_*_new3; valid while this object lives.
  nghttp2_mem* mem() { return &mem_; }

  size_t bytesInUse() const { return in_use_; }
  size_t peakBytes() const { return peak_; }
  size_t cap() const { return cap_; }

 private:
  static void* onMalloc(size_t size, void* self);
  static void onFree(void* ptr, void* self);
  static void* onCalloc(size_t nmemb, size_t size, void* self);
  static void* onRealloc(void* ptr, size_t size, void* self);

  void* allocate(size_t size);
  void release(void* ptr);
  void* reallocate(void* ptr, size_t size);

  nghttp2_mem mem_;
  size_t cap_;
  size_t in_use_ = 0;
  size_t peak_ = 0;
};

}  // namespace warren::http2
