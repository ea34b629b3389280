// The probe's deterministic payload: byte i of a stream depends only on i, so the receiver
// can check every byte without the sender's copy. A 64-bit xorshift keyed by the 8-byte block
// index, so any offset can be generated independently (no state to share).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace warren::probe {

// Fills `out[0..len)` with payload bytes starting at stream `offset`.
void fillPayload(uint64_t offset, uint8_t* out, size_t len);

// Index of the first byte of `data` (at stream `offset`) that differs from the payload, or
// `len` when all match.
size_t firstMismatch(uint64_t offset, const uint8_t* data, size_t len);

// Incremental SHA-256 over OpenSSL EVP.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t len);
  std::string hex();  // finishes; call once

 private:
  void* ctx_;
};

}  // namespace warren::probe
