// Warren's own AES-128-GCM (aes128_gcm.h) against OpenSSL's as the oracle: the same ciphertext
// and tag for every length from 0 to 600 bytes and the record sizes around 16 KiB, additional
// data of every length a record uses and more, the plaintext split into parts at random
// boundaries; a published test vector; a tag that fails for any flipped bit of the nonce,
// additional data, ciphertext or tag, leaving the output untouched; decryption in place; and a
// record layer on it talking to one on OpenSSL both ways.
#include "common/tls/aes128_gcm.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string_view>
#include <string>
#include <vector>

#include "common/tls/record_layer.h"

namespace warren::tls {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes hexBytes(std::string_view hex) {
  Bytes b;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    b.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return b;
}

// OpenSSL's AES-128-GCM: ciphertext || tag.
Bytes opensslSeal(const Bytes& key, const Bytes& nonce, const Bytes& aad, const Bytes& plain) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  Bytes out(plain.size() + 16);
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, key.data(), nonce.data()), 1);
  if (!aad.empty()) {
    EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())), 1);
  }
  if (!plain.empty()) {
    EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), out.data(), &len, plain.data(),
                                static_cast<int>(plain.size())),
              1);
  }
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx.get(), out.data() + plain.size(), &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16, out.data() + plain.size()), 1);
  return out;
}

// Ours, the plaintext cut at `cuts` (sorted offsets): ciphertext || tag.
Bytes ownSeal(const Aes128Gcm& gcm, const Bytes& nonce, const Bytes& aad, const Bytes& plain,
              const std::vector<size_t>& cuts) {
  std::vector<std::span<const uint8_t>> parts;
  size_t from = 0;
  for (size_t cut : cuts) {
    parts.push_back(std::span(plain).subspan(from, cut - from));
    from = cut;
  }
  parts.push_back(std::span(plain).subspan(from));
  Bytes out(plain.size() + 16, 0xee);
  gcm.seal(std::span<const uint8_t, 12>(nonce.data(), 12), aad, parts, out.data(),
           std::span<uint8_t, 16>(out.data() + plain.size(), 16));
  return out;
}

class Aes128GcmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Aes128Gcm::supported()) GTEST_SKIP() << "this CPU has no VAES/VPCLMULQDQ/AVX-512";
  }
};

// "The Galois/Counter Mode of Operation" (McGrew, Viega), test case 4: 60 bytes, 20 of AAD.
TEST_F(Aes128GcmTest, PublishedVector) {
  Bytes key = hexBytes("feffe9928665731c6d6a8f9467308308");
  Bytes nonce = hexBytes("cafebabefacedbaddecaf888");
  Bytes plain = hexBytes(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b5"
      "25b16aedf5aa0de657ba637b39");
  Bytes aad = hexBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  Bytes want = hexBytes(
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84"
      "aa051ba30b396a0aac973d58e091"
      "5bc94fbc3221a5db94fae95ae7121a47");
  ASSERT_EQ(opensslSeal(key, nonce, aad, plain), want);  // the vector as copied here is right
  Aes128Gcm gcm(std::span<const uint8_t, 16>(key.data(), 16));
  EXPECT_EQ(ownSeal(gcm, nonce, aad, plain, {}), want);
  EXPECT_EQ(ownSeal(gcm, nonce, aad, plain, {1, 17, 59}), want);
}

TEST_F(Aes128GcmTest, AgreesWithOpenSslOnEveryLengthAndEverySplit) {
  std::mt19937 rng(12345);
  auto random = [&](size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
  };
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 600; ++n) lengths.push_back(n);
  for (size_t n : {1023, 1024, 1025, 4096 + 7, 16383, 16384, 16385, 16384 + 256}) lengths.push_back(n);
  int checked = 0;
  for (size_t n : lengths) {
    Bytes key = random(16), nonce = random(12), plain = random(n);
    Bytes aad = random(n % 7 == 0 ? 5 : rng() % 70);
    Aes128Gcm gcm(std::span<const uint8_t, 16>(key.data(), 16));
    std::vector<size_t> cuts;
    for (size_t c = rng() % 4; c > 0 && n > 0; --c) cuts.push_back(rng() % (n + 1));
    std::sort(cuts.begin(), cuts.end());
    Bytes want = opensslSeal(key, nonce, aad, plain);
    ASSERT_EQ(ownSeal(gcm, nonce, aad, plain, cuts), want) << n << " bytes, " << aad.size() << " of aad";
    Bytes back(n, 0xcc);
    ASSERT_TRUE(gcm.open(std::span<const uint8_t, 12>(nonce.data(), 12), aad,
                         std::span(want).first(n), back.data(),
                         std::span<const uint8_t, 16>(want.data() + n, 16)))
        << n;
    ASSERT_EQ(back, plain) << n;
    ++checked;
  }
  EXPECT_EQ(checked, 609);
}

TEST_F(Aes128GcmTest, AnyFlippedBitFailsAndLeavesTheOutputAlone) {
  Bytes key(16, 7), nonce(12, 9), aad = {23, 3, 3, 1, 17}, plain(300);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 31);
  Aes128Gcm gcm(std::span<const uint8_t, 16>(key.data(), 16));
  const Bytes sealed = ownSeal(gcm, nonce, aad, plain, {});
  auto opens = [&](Bytes n, Bytes a, Bytes s) {
    Bytes out(plain.size(), 0xaa);
    bool ok = gcm.open(std::span<const uint8_t, 12>(n.data(), 12), a,
                       std::span(s).first(plain.size()), out.data(),
                       std::span<const uint8_t, 16>(s.data() + plain.size(), 16));
    if (!ok) {
      EXPECT_EQ(out, Bytes(plain.size(), 0xaa)) << "a failed open wrote plaintext";
    }
    return ok;
  };
  ASSERT_TRUE(opens(nonce, aad, sealed));
  for (size_t bit = 0; bit < 8 * nonce.size(); bit += 5) {
    Bytes n = nonce;
    n[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(opens(n, aad, sealed)) << "nonce bit " << bit;
  }
  for (size_t bit = 0; bit < 8 * aad.size(); ++bit) {
    Bytes a = aad;
    a[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(opens(nonce, a, sealed)) << "aad bit " << bit;
  }
  for (size_t bit = 0; bit < 8 * sealed.size(); bit += 7) {
    Bytes s = sealed;
    s[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(opens(nonce, aad, s)) << "ciphertext or tag bit " << bit;
  }
}

TEST_F(Aes128GcmTest, OpensInPlace) {
  Bytes key(16, 1), nonce(12, 2), aad(5, 3), plain(16384 + 1);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i ^ (i >> 8));
  Aes128Gcm gcm(std::span<const uint8_t, 16>(key.data(), 16));
  Bytes sealed = ownSeal(gcm, nonce, aad, plain, {9});
  ASSERT_TRUE(gcm.open(std::span<const uint8_t, 12>(nonce.data(), 12), aad,
                       std::span(sealed).first(plain.size()), sealed.data(),
                       std::span<const uint8_t, 16>(sealed.data() + plain.size(), 16)));
  EXPECT_EQ(Bytes(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(plain.size())), plain);
}

// Records sealed on one code open on the other, both ways, through RecordCipher.
TEST_F(Aes128GcmTest, RecordsInterworkWithOpenSslRecords) {
  const char* forced = std::getenv("WARREN_TLS_AEAD");
  if (forced && std::string_view(forced) == "openssl") {
    EXPECT_STREQ(bestAeadCodeName(), "openssl");
    GTEST_SKIP() << "WARREN_TLS_AEAD=openssl: kBest is OpenSSL's too, nothing to compare";
  }
  EXPECT_STREQ(bestAeadCodeName(), "vaes-avx512");
  TrafficKeys keys;
  keys.key = Bytes(16, 0x42);
  keys.iv = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  keys.seq = 1000;
  for (auto [seal_code, open_code] : {std::pair{AeadCode::kBest, AeadCode::kOpenSsl},
                                      std::pair{AeadCode::kOpenSsl, AeadCode::kBest}}) {
    auto tx = RecordCipher::create(0x1301, keys, seal_code);
    auto rx = RecordCipher::create(0x1301, keys, open_code);
    ASSERT_TRUE(tx && rx);
    for (size_t n : {0, 1, 15, 16, 100, 4000, 16384}) {
      Bytes head(9, 0x5a), payload(n);
      for (size_t i = 0; i < n; ++i) payload[i] = static_cast<uint8_t>(i * 7 + n);
      const std::span<const uint8_t> parts[2] = {head, payload};
      if (n + head.size() > kMaxRecordContent) continue;
      OutputBuffer out;
      ASSERT_TRUE(tx->seal(kContentApplicationData, parts, out));
      Bytes plain(out.size());
      auto opened = rx->open(out.data(), plain);
      ASSERT_TRUE(opened) << n << ": " << opened.error().message();
      EXPECT_EQ(opened->length, n + head.size());
      EXPECT_EQ(Bytes(plain.begin(), plain.begin() + 9), head);
      EXPECT_EQ(Bytes(plain.begin() + 9, plain.begin() + 9 + static_cast<std::ptrdiff_t>(n)), payload);
    }
    // More parts than RecordCipher gathers on its stack: 40 pieces of 1-100 bytes.
    Bytes all;
    std::vector<Bytes> pieces;
    for (size_t i = 0; i < 40; ++i) pieces.push_back(Bytes(1 + (i * 37) % 100, static_cast<uint8_t>(i)));
    std::vector<std::span<const uint8_t>> spans;
    for (const auto& p : pieces) {
      spans.push_back(p);
      all.insert(all.end(), p.begin(), p.end());
    }
    OutputBuffer out;
    ASSERT_TRUE(tx->seal(kContentApplicationData, spans, out));
    Bytes plain(out.size());
    auto opened = rx->open(out.data(), plain);
    ASSERT_TRUE(opened);
    EXPECT_EQ(Bytes(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(opened->length)), all);
  }
}

}  // namespace
}  // namespace warren::tls
