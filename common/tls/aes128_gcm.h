// AES-128-GCM (NIST SP 800-38D) for the record layer (record_layer.h), on the x86-64 vector AES
// and carry-less multiply instructions over 512-bit registers (VAES, VPCLMULQDQ, AVX-512):
// 32 blocks per step, four to a register, for the counter-mode keystream and for GHASH
// (32 products summed before one reduction, with the hash key's powers H^1..H^32 made once per
// key). OpenSSL 3.0, what Debian 12 ships, has no such code path (its AES-GCM uses 128-bit
// AES-NI); on a CPU with these instructions this one is about twice as fast (tls_record_bench).
//
// Only what a TLS 1.3 record needs: a 96-bit nonce, additional data, a 128-bit tag. Sealing
// takes the plaintext in parts (a frame header and a payload lying apart), encrypted from where
// they lie into one output. Opening checks the tag before it decrypts anything.
//
// Use only when supported() (the CPU has the instructions and the kernel saves their
// registers). Both AES and CLMUL run in constant time; the tag comparison is CRYPTO_memcmp.
// Secret material (round keys, hash key powers) is wiped on destruction. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace warren::tls {

class Aes128Gcm {
 public:
  static constexpr size_t kKeyBytes = 16;
  static constexpr size_t kNonceBytes = 12;
  static constexpr size_t kTagBytes = 16;

  // This CPU has AES-NI, PCLMULQDQ, VAES, VPCLMULQDQ and AVX-512 F/BW/VL, and the OS enabled them.
  static bool supported();

  explicit Aes128Gcm(std::span<const uint8_t, kKeyBytes> key);
  ~Aes128Gcm();
  Aes128Gcm(const Aes128Gcm&) = delete;
  Aes128Gcm& operator=(const Aes128Gcm&) = delete;

  // Encrypts the concatenation of `parts` and then `last` (a TLS 1.3 record's content type
  // byte) into `out` (exactly as many bytes) and writes the tag.
  void seal(std::span<const uint8_t, kNonceBytes> nonce, std::span<const uint8_t> aad,
            std::span<const std::span<const uint8_t>> parts, uint8_t* out,
            std::span<uint8_t, kTagBytes> tag, std::span<const uint8_t> last = {}) const;
  // false when `tag` does not authenticate (nonce, aad, in); then `out` is left untouched.
  // Otherwise decrypts `in` into `out` (as many bytes; it may be `in` itself).
  bool open(std::span<const uint8_t, kNonceBytes> nonce, std::span<const uint8_t> aad,
            std::span<const uint8_t> in, uint8_t* out,
            std::span<const uint8_t, kTagBytes> tag) const;

 private:
  alignas(64) uint8_t round_keys_[11 * 16];
  // H^32 .. H^1 (index 0 = H^32), byte-reversed as GHASH works on them (the .cc file).
  alignas(64) uint8_t hash_powers_[32 * 16];
};

}  // namespace warren::tls
