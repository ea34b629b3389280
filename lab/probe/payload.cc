#include "lab/probe/payload.h"

#include <openssl/evp.h>

#include <cstring>

namespace warren::probe {
namespace {

uint64_t block(uint64_t index) {
  uint64_t x = index * 0x9E3779B97F4A7C15ull + 0x6A09E667F3BCC909ull;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

}  // namespace

void fillPayload(uint64_t offset, uint8_t* out, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint64_t pos = offset + i;
    uint64_t b = block(pos / 8);
    size_t in_block = pos % 8;
    size_t n = std::min<size_t>(8 - in_block, len - i);
    for (size_t k = 0; k < n; ++k) out[i + k] = static_cast<uint8_t>(b >> (8 * (in_block + k)));
    i += n;
  }
}

size_t firstMismatch(uint64_t offset, const uint8_t* data, size_t len) {
  uint8_t buf[4096];
  size_t i = 0;
  while (i < len) {
    size_t n = std::min(sizeof(buf), len - i);
    fillPayload(offset + i, buf, n);
    if (std::memcmp(buf, data + i, n) != 0) {
      for (size_t k = 0; k < n; ++k)
        if (buf[k] != data[i + k]) return i + k;
    }
    i += n;
  }
  return len;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, size_t len) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, len);
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 15]);
  }
  return out;
}

}  // namespace warren::probe
