// Internal to warren_http2: what the two halves of Session (session.cc: the API the
// application calls; session_events.cc: the callbacks nghttp2 calls) both need.
#pragma once

#include <nghttp2/nghttp2.h>

#include <vector>

#include "common/http2/header.h"
#include "common/http2/session.h"

namespace warren::http2::detail {

inline Session* self(void* ud) { return static_cast<Session*>(ud); }

// nghttp2 copies names and values on submit (no NO_COPY flags), so the views may be temporary.
inline std::vector<nghttp2_nv> toNv(const HeaderList& headers) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size());
  for (const auto& h : headers) {
    nva.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(h.name.data())),
                             reinterpret_cast<uint8_t*>(const_cast<char*>(h.value.data())),
                             h.name.size(), h.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nva;
}

// RFC 9113 6.5.2: the size of a header field is name + value + 32 octets of overhead.
constexpr size_t kHeaderFieldOverhead = 32;

inline void putU64(uint8_t* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

}  // namespace warren::http2::detail
