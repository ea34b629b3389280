#include "common/http2/session_allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace warren::http2 {
namespace {

// Each block carries its size in a header, so free() can account for it. 16 bytes keeps the
// payload aligned for any type nghttp2 stores (max_align_t).
constexpr size_t kHeader = alignof(std::max_align_t);
static_assert(kHeader >= sizeof(size_t));

size_t blockSize(void* payload) {
  size_t size;
  std::memcpy(&size, static_cast<char*>(payload) - kHeader, sizeof(size));
  return size;
}

}  // namespace

SessionAllocator::SessionAllocator(size_t cap) : cap_(cap) {
  mem_.mem_user_data = this;
  mem_.malloc = &SessionAllocator::onMalloc;
  mem_.free = &SessionAllocator::onFree;
  mem_.calloc = &SessionAllocator::onCalloc;
  mem_.realloc = &SessionAllocator::onRealloc;
}

void* SessionAllocator::allocate(size_t size) {
  if (size > cap_ || in_use_ + size > cap_) return nullptr;  // nghttp2 reports NGHTTP2_ERR_NOMEM
  auto* block = static_cast<char*>(std::malloc(kHeader + size));
  if (block == nullptr) return nullptr;
  std::memcpy(block, &size, sizeof(size));
  in_use_ += size;
  peak_ = std::max(peak_, in_use_);
  return block + kHeader;
}

void SessionAllocator::release(void* ptr) {
  if (ptr == nullptr) return;
  in_use_ -= blockSize(ptr);
  std::free(static_cast<char*>(ptr) - kHeader);
}

void* SessionAllocator::reallocate(void* ptr, size_t size) {
  if (ptr == nullptr) return allocate(size);
  if (size == 0) {
    release(ptr);
    return nullptr;
  }
  size_t old = blockSize(ptr);
  if (size > old && (size > cap_ || in_use_ - old + size > cap_)) return nullptr;
  auto* block = static_cast<char*>(std::realloc(static_cast<char*>(ptr) - kHeader, kHeader + size));
  if (block == nullptr) return nullptr;
  std::memcpy(block, &size, sizeof(size));
  in_use_ = in_use_ - old + size;
  peak_ = std::max(peak_, in_use_);
  return block + kHeader;
}

void* SessionAllocator::onMalloc(size_t size, void* self) {
  return static_cast<SessionAllocator*>(self)->allocate(size);
}

void SessionAllocator::onFree(void* ptr, void* self) {
  static_cast<SessionAllocator*>(self)->release(ptr);
}

void* SessionAllocator::onCalloc(size_t nmemb, size_t size, void* self) {
  if (size != 0 && nmemb > SIZE_MAX / size) return nullptr;
  void* p = static_cast<SessionAllocator*>(self)->allocate(nmemb * size);
  if (p != nullptr) std::memset(p, 0, nmemb * size);
  return p;
}

void* SessionAllocator::onRealloc(void* ptr, size_t size, void* self) {
  return static_cast<SessionAllocator*>(self)->reallocate(ptr, size);
}

}  // namespace warren::http2
