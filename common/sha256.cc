#include "common/sha256.h"

#include <openssl/evp.h>

#include "common/hex.h"

namespace warren {

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return encodeHex(std::span<const uint8_t>(md, len));
}

}  // namespace warren
