#include "common/tls/aes128_gcm.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

// GCC 12's own avx512fintrin.h starts broadcasts and extractions from _mm512_undefined_*(),
// which its -Wmaybe-uninitialized then flags wherever they are inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// Every function that touches the vector registers carries the instruction sets it uses, so the
// rest of the program is built for any x86-64 and this code runs only after supported().
#define WARREN_GCM_TARGET \
  __attribute__((target("aes,pclmul,ssse3,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")))
#endif

namespace warren::tls {
#if defined(__x86_64__)
namespace {

// GHASH (SP 800-38D §6.4) works on 128-bit blocks whose first bit is the coefficient of x^0.
// With each block's 16 bytes reversed, the carry-less multiply of two blocks is their product
// shifted right by one bit; reduce() shifts it back and reduces modulo x^128 + x^7 + x^2 + x + 1
// (the method of Gueron and Kounavis, "Intel Carry-Less Multiplication Instruction and its
// Usage for Computing the GCM Mode", algorithms 2 and 4). Hash key powers, the running hash
// and the counter blocks' arithmetic all live byte-reversed here.

WARREN_GCM_TARGET inline __m128i reverseMask() {
  return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

WARREN_GCM_TARGET inline __m128i reverse(__m128i x) { return _mm_shuffle_epi8(x, reverseMask()); }

// The 256-bit product lo ^ mid << 64 ^ hi << 128 of two byte-reversed blocks, reduced.
WARREN_GCM_TARGET inline __m128i reduce(__m128i lo, __m128i mid, __m128i hi) {
  __m128i a = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
  __m128i b = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
  // [b:a] <<= 1 (the bit order of reversed operands leaves the product one bit short).
  __m128i carry_a = _mm_srli_epi32(a, 31);
  __m128i carry_b = _mm_srli_epi32(b, 31);
  a = _mm_slli_epi32(a, 1);
  b = _mm_slli_epi32(b, 1);
  __m128i top = _mm_srli_si128(carry_a, 12);
  carry_b = _mm_slli_si128(carry_b, 4);
  carry_a = _mm_slli_si128(carry_a, 4);
  a = _mm_or_si128(a, carry_a);
  b = _mm_or_si128(b, carry_b);
  b = _mm_or_si128(b, top);
  // Fold the low half into the high one: x^128 = x^7 + x^2 + x + 1.
  __m128i f = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(a, 31), _mm_slli_epi32(a, 30)),
                            _mm_slli_epi32(a, 25));
  __m128i f_hi = _mm_srli_si128(f, 4);
  a = _mm_xor_si128(a, _mm_slli_si128(f, 12));
  __m128i g = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(a, 1), _mm_srli_epi32(a, 2)),
                            _mm_srli_epi32(a, 7));
  g = _mm_xor_si128(g, f_hi);
  return _mm_xor_si128(b, _mm_xor_si128(a, g));
}

WARREN_GCM_TARGET inline __m128i multiply(__m128i x, __m128i y) {
  __m128i mid =
      _mm_xor_si128(_mm_clmulepi64_si128(x, y, 0x01), _mm_clmulepi64_si128(x, y, 0x10));
  return reduce(_mm_clmulepi64_si128(x, y, 0x00), mid, _mm_clmulepi64_si128(x, y, 0x11));
}

// The four 128-bit lanes XORed into one.
WARREN_GCM_TARGET inline __m128i fold(__m512i v) {
  __m256i h = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  return _mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

struct RoundKeys {
  __m128i k[11];
};

WARREN_GCM_TARGET inline RoundKeys loadRoundKeys(const uint8_t* bytes) {
  RoundKeys r;
  for (int i = 0; i < 11; ++i) r.k[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes) + i);
  return r;
}

WARREN_GCM_TARGET inline __m128i encryptBlock(const RoundKeys& rk, __m128i x) {
  x = _mm_xor_si128(x, rk.k[0]);
  for (int i = 1; i < 10; ++i) x = _mm_aesenc_si128(x, rk.k[i]);
  return _mm_aesenclast_si128(x, rk.k[10]);
}

// AES-128's key schedule step with round constant Rcon (FIPS 197 §5.2).
template <int Rcon>
WARREN_GCM_TARGET inline __m128i nextRoundKey(__m128i key) {
  __m128i t = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(key, Rcon), 0xff);
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, t);
}

// Counter blocks: nonce || 32-bit big-endian counter. `base` is nonce || 0 byte-reversed, so
// the counter is its low 32-bit lane and adds as an integer (wrapping, as inc32 does).
WARREN_GCM_TARGET inline __m128i counterBlock(__m128i base, uint32_t counter) {
  return reverse(_mm_add_epi32(base, _mm_cvtsi32_si128(static_cast<int>(counter))));
}

// Counters counter .. counter + 3, one per lane, still byte-reversed (`lanes` adds 0, 1, 2, 3).
WARREN_GCM_TARGET inline __m512i fourCounters(__m128i base, uint32_t counter, __m512i lanes) {
  return _mm512_add_epi32(
      _mm512_broadcast_i32x4(_mm_add_epi32(base, _mm_cvtsi32_si128(static_cast<int>(counter)))),
      lanes);
}

// XORs `n` bytes of counter block `counter`'s keystream, from its byte `skip` on (skip + n <= 16).
WARREN_GCM_TARGET inline void xorPartialBlock(const RoundKeys& rk, __m128i base, uint32_t counter,
                                              size_t skip, const uint8_t* in, uint8_t* out,
                                              size_t n) {
  alignas(16) uint8_t ks[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(ks), encryptBlock(rk, counterBlock(base, counter)));
  for (size_t i = 0; i < n; ++i) out[i] = in[i] ^ ks[skip + i];
  OPENSSL_cleanse(ks, sizeof ks);
}

// One step of the keystream over N registers (4N blocks, 64N bytes) from data block `block`:
// XORed from `in` to `out`, the cursors advanced. Eight registers keep enough rounds in flight
// to cover their latency; the loops are unrolled so the registers never go through memory.
template <int N>
WARREN_GCM_TARGET inline void xorKeystream(const __m512i* k, __m128i base, __m512i lanes,
                                           const uint8_t*& in, uint8_t*& out, size_t& len,
                                           uint32_t& block) {
  const __m512i mask = _mm512_broadcast_i32x4(reverseMask());
  const __m512i four = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
  __m512i c[N];
  c[0] = fourCounters(base, 2 + block, lanes);
#pragma GCC unroll 8
  for (int j = 1; j < N; ++j) c[j] = _mm512_add_epi32(c[j - 1], four);
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) c[j] = _mm512_xor_si512(_mm512_shuffle_epi8(c[j], mask), k[0]);
#pragma GCC unroll 9
  for (int r = 1; r < 10; ++r) {
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) c[j] = _mm512_aesenc_epi128(c[j], k[r]);
  }
#pragma GCC unroll 8
  for (int j = 0; j < N; ++j) {
    c[j] = _mm512_aesenclast_epi128(c[j], k[10]);
    _mm512_storeu_si512(out + 64 * j, _mm512_xor_si512(_mm512_loadu_si512(in + 64 * j), c[j]));
  }
  in += 64 * N, out += 64 * N, len -= 64 * N, block += 4 * N;
}

// XORs the keystream into `len` bytes starting at byte `at` of the message (data block b uses
// counter 2 + b: counter 1 is the tag's).
WARREN_GCM_TARGET void ctrXor(const RoundKeys& rk, __m128i base, const uint8_t* in, uint8_t* out,
                              size_t len, size_t at) {
  uint32_t block = static_cast<uint32_t>(at / 16);
  if (size_t skip = at % 16; skip != 0 && len > 0) {
    size_t n = len < 16 - skip ? len : 16 - skip;
    xorPartialBlock(rk, base, 2 + block, skip, in, out, n);
    in += n, out += n, len -= n, ++block;
  }
  if (len >= 64) {
    __m512i k[11];
    for (int i = 0; i < 11; ++i) k[i] = _mm512_broadcast_i32x4(rk.k[i]);
    const __m512i lanes = _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0);
    while (len >= 512) xorKeystream<8>(k, base, lanes, in, out, len, block);
    while (len >= 256) xorKeystream<4>(k, base, lanes, in, out, len, block);
    while (len >= 64) xorKeystream<1>(k, base, lanes, in, out, len, block);
    OPENSSL_cleanse(k, sizeof k);
  }
  while (len >= 16) {
    __m128i ks = encryptBlock(rk, counterBlock(base, 2 + block));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in)), ks));
    in += 16, out += 16, len -= 16, ++block;
  }
  if (len > 0) xorPartialBlock(rk, base, 2 + block, 0, in, out, len);
}

// x times h, lane by lane, added unreduced into lo, mid, hi.
WARREN_GCM_TARGET inline void multiplyAdd(__m512i x, __m512i h, __m512i& lo, __m512i& mid,
                                          __m512i& hi) {
  lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(x, h, 0x00));
  hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(x, h, 0x11));
  mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(x, h, 0x01),
                                  _mm512_clmulepi64_epi128(x, h, 0x10), 0x96);  // three-way XOR
}

// Four registers of blocks (byte-reversed) times four of hash key powers from `powers`.
WARREN_GCM_TARGET inline void multiplyAdd4(__m512i x0, __m512i x1, __m512i x2, __m512i x3,
                                           const uint8_t* powers, __m512i& lo, __m512i& mid,
                                           __m512i& hi) {
  multiplyAdd(x0, _mm512_load_si512(powers), lo, mid, hi);
  multiplyAdd(x1, _mm512_load_si512(powers + 64), lo, mid, hi);
  multiplyAdd(x2, _mm512_load_si512(powers + 128), lo, mid, hi);
  multiplyAdd(x3, _mm512_load_si512(powers + 192), lo, mid, hi);
}

// Four blocks from `at`, each byte-reversed (`mask`: reverseMask() in every lane).
WARREN_GCM_TARGET inline __m512i load(const uint8_t* at, __m512i mask) {
  return _mm512_shuffle_epi8(_mm512_loadu_si512(at), mask);
}

// Hashes `len` bytes (the last block zero-padded) into `y`. 32 blocks at a time, then 16:
// y' = (y ^ x0) H^32 ^ x1 H^31 ^ ... ^ x31 H, the products summed unreduced and reduced once
// (so the reduction's latency, which each step waits for, is paid once per 512 bytes).
// powers[i] = H^(32 - i).
WARREN_GCM_TARGET __m128i ghash(const uint8_t* powers, __m128i y, const uint8_t* p, size_t len) {
  const __m512i mask = _mm512_broadcast_i32x4(reverseMask());
  while (len >= 512) {
    __m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
    // The later blocks' products first: only the first register depends on y.
    multiplyAdd4(load(p + 256, mask), load(p + 320, mask), load(p + 384, mask),
                 load(p + 448, mask), powers + 256, lo, mid, hi);
    __m512i x0 = _mm512_xor_si512(load(p, mask), _mm512_inserti32x4(_mm512_setzero_si512(), y, 0));
    multiplyAdd4(x0, load(p + 64, mask), load(p + 128, mask), load(p + 192, mask), powers, lo, mid,
                 hi);
    y = reduce(fold(lo), fold(mid), fold(hi));
    p += 512, len -= 512;
  }
  if (len >= 256) {
    __m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
    __m512i x0 = _mm512_xor_si512(load(p, mask), _mm512_inserti32x4(_mm512_setzero_si512(), y, 0));
    multiplyAdd4(x0, load(p + 64, mask), load(p + 128, mask), load(p + 192, mask), powers + 256,
                 lo, mid, hi);
    y = reduce(fold(lo), fold(mid), fold(hi));
    p += 256, len -= 256;
  }
  const __m128i h1 = _mm_load_si128(reinterpret_cast<const __m128i*>(powers) + 31);
  for (; len >= 16; p += 16, len -= 16)
    y = multiply(_mm_xor_si128(y, reverse(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))), h1);
  if (len > 0) {
    alignas(16) uint8_t last[16] = {};
    std::memcpy(last, p, len);
    y = multiply(_mm_xor_si128(y, reverse(_mm_load_si128(reinterpret_cast<const __m128i*>(last)))), h1);
  }
  return y;
}

WARREN_GCM_TARGET __m128i nonceBase(const uint8_t* nonce) {
  alignas(16) uint8_t block[16] = {};
  std::memcpy(block, nonce, Aes128Gcm::kNonceBytes);
  return reverse(_mm_load_si128(reinterpret_cast<const __m128i*>(block)));
}

// E(K, J0) ^ GHASH(aad, ciphertext, their lengths): the tag (SP 800-38D §7.1).
WARREN_GCM_TARGET __m128i computeTag(const RoundKeys& rk, const uint8_t* powers, __m128i base,
                                     std::span<const uint8_t> aad, const uint8_t* ciphertext,
                                     size_t len) {
  __m128i y = ghash(powers, _mm_setzero_si128(), aad.data(), aad.size());
  y = ghash(powers, y, ciphertext, len);
  const __m128i lengths = _mm_set_epi64x(static_cast<long long>(aad.size() * 8),
                                         static_cast<long long>(len * 8));
  y = multiply(_mm_xor_si128(y, lengths),
               _mm_load_si128(reinterpret_cast<const __m128i*>(powers) + 31));
  return _mm_xor_si128(encryptBlock(rk, counterBlock(base, 1)), reverse(y));
}

WARREN_GCM_TARGET void expandKey(const uint8_t* key, uint8_t* round_keys, uint8_t* powers) {
  __m128i* rk = reinterpret_cast<__m128i*>(round_keys);
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = nextRoundKey<0x01>(rk[0]);
  rk[2] = nextRoundKey<0x02>(rk[1]);
  rk[3] = nextRoundKey<0x04>(rk[2]);
  rk[4] = nextRoundKey<0x08>(rk[3]);
  rk[5] = nextRoundKey<0x10>(rk[4]);
  rk[6] = nextRoundKey<0x20>(rk[5]);
  rk[7] = nextRoundKey<0x40>(rk[6]);
  rk[8] = nextRoundKey<0x80>(rk[7]);
  rk[9] = nextRoundKey<0x1b>(rk[8]);
  rk[10] = nextRoundKey<0x36>(rk[9]);
  // H = E(K, 0^128); powers[i] = H^(32 - i).
  const __m128i h = reverse(encryptBlock(loadRoundKeys(round_keys), _mm_setzero_si128()));
  __m128i* pw = reinterpret_cast<__m128i*>(powers);
  pw[31] = h;
  for (int i = 30; i >= 0; --i) pw[i] = multiply(pw[i + 1], h);
}

WARREN_GCM_TARGET void sealImpl(const uint8_t* round_keys, const uint8_t* powers,
                                const uint8_t* nonce, std::span<const uint8_t> aad,
                                std::span<const std::span<const uint8_t>> parts,
                                std::span<const uint8_t> last, uint8_t* out, uint8_t* tag) {
  RoundKeys rk = loadRoundKeys(round_keys);  // not const: wiped below
  const __m128i base = nonceBase(nonce);
  size_t at = 0;
  for (auto part : parts) {
    ctrXor(rk, base, part.data(), out + at, part.size(), at);
    at += part.size();
  }
  ctrXor(rk, base, last.data(), out + at, last.size(), at);
  at += last.size();
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), computeTag(rk, powers, base, aad, out, at));
  OPENSSL_cleanse(&rk, sizeof rk);
}

WARREN_GCM_TARGET bool openImpl(const uint8_t* round_keys, const uint8_t* powers,
                                const uint8_t* nonce, std::span<const uint8_t> aad,
                                std::span<const uint8_t> in, uint8_t* out, const uint8_t* tag) {
  RoundKeys rk = loadRoundKeys(round_keys);  // not const: wiped below
  const __m128i base = nonceBase(nonce);
  alignas(16) uint8_t expected[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(expected),
                  computeTag(rk, powers, base, aad, in.data(), in.size()));
  const bool authentic = CRYPTO_memcmp(expected, tag, sizeof expected) == 0;
  if (authentic) ctrXor(rk, base, in.data(), out, in.size(), 0);
  OPENSSL_cleanse(expected, sizeof expected);
  OPENSSL_cleanse(&rk, sizeof rk);
  return authentic;
}

}  // namespace

bool Aes128Gcm::supported() {
  static const bool usable = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool aes = c & (1u << 25), pclmul = c & (1u << 1), osxsave = c & (1u << 27);
    if (!aes || !pclmul || !osxsave) return false;
    // The OS saves the SSE, AVX and AVX-512 (opmask, upper ZMM halves, ZMM16-31) state.
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xe6) != 0xe6) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512bw = b & (1u << 30),
               avx512vl = b & (1u << 31), vaes = c & (1u << 9), vpclmulqdq = c & (1u << 10);
    return avx2 && avx512f && avx512bw && avx512vl && vaes && vpclmulqdq;
  }();
  return usable;
}

Aes128Gcm::Aes128Gcm(std::span<const uint8_t, kKeyBytes> key) {
  expandKey(key.data(), round_keys_, hash_powers_);
}

Aes128Gcm::~Aes128Gcm() {
  OPENSSL_cleanse(round_keys_, sizeof round_keys_);
  OPENSSL_cleanse(hash_powers_, sizeof hash_powers_);
}

void Aes128Gcm::seal(std::span<const uint8_t, kNonceBytes> nonce, std::span<const uint8_t> aad,
                     std::span<const std::span<const uint8_t>> parts, uint8_t* out,
                     std::span<uint8_t, kTagBytes> tag, std::span<const uint8_t> last) const {
  sealImpl(round_keys_, hash_powers_, nonce.data(), aad, parts, last, out, tag.data());
}

bool Aes128Gcm::open(std::span<const uint8_t, kNonceBytes> nonce, std::span<const uint8_t> aad,
                     std::span<const uint8_t> in, uint8_t* out,
                     std::span<const uint8_t, kTagBytes> tag) const {
  return openImpl(round_keys_, hash_powers_, nonce.data(), aad, in, out, tag.data());
}

#else  // not x86-64: never supported(), so never constructed

bool Aes128Gcm::supported() { return false; }
Aes128Gcm::Aes128Gcm(std::span<const uint8_t, kKeyBytes>) : round_keys_{}, hash_powers_{} {}
Aes128Gcm::~Aes128Gcm() = default;
void Aes128Gcm::seal(std::span<const uint8_t, kNonceBytes>, std::span<const uint8_t>,
                     std::span<const std::span<const uint8_t>>, uint8_t*,
                     std::span<uint8_t, kTagBytes>, std::span<const uint8_t>) const {
  std::abort();
}
bool Aes128Gcm::open(std::span<const uint8_t, kNonceBytes>, std::span<const uint8_t>,
                     std::span<const uint8_t>, uint8_t*, std::span<const uint8_t, kTagBytes>) const {
  std::abort();
}

#endif

}  // namespace warren::tls
