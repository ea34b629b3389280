// TLS 1.3 records in user space (RFC 8446 §5), from the state the handshake left
// (TlsEngine::useOwnRecordLayer): the engine's record layer once the handshake is done and the
// kernel did not take the records (kTLS, kernel_tls.h). OpenSSL's record layer copies each
// record twice on the way out (into its write buffer, then through the BIO) and twice on the
// way in, and spends as much again on per-record bookkeeping (error queue, buffer management)
// as the AEAD itself on a small record; here a record is encrypted from where its bytes lie
// straight into the output buffer (no copy before the cipher) and opened straight from the
// bytes received into the caller's plaintext buffer.
//
//   record = header(type 23, 0x0303, length) || AEAD(key, iv XOR seq, aad = header,
//            plaintext || inner content type)  -- the 16-byte tag last
//
// RecordCipher is one direction (key, IV, sequence number); RecordLayer is a connection's two,
// plus what arrives after the handshake besides data: close_notify and other alerts, KeyUpdate
// (followed both ways, answered when the peer asks), NewSessionTicket (ignored: no resumption).
// Not thread-safe; one per connection. Secret material: never log it.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/tls/aes128_gcm.h"
#include "common/tls/output_buffer.h"
#include "common/tls/record_state.h"

namespace warren::tls {

// TLS 1.3 record content types (RFC 8446 §5.1).
inline constexpr uint8_t kContentAlert = 21;
inline constexpr uint8_t kContentHandshake = 22;
inline constexpr uint8_t kContentApplicationData = 23;

inline constexpr size_t kRecordHeaderBytes = 5;
inline constexpr size_t kRecordTagBytes = 16;
// The most a record carries (RFC 8446 §5.1: 2^14), and the largest protected record body
// (§5.2: 2^14 + 256).
inline constexpr size_t kMaxRecordContent = 16384;
inline constexpr size_t kMaxRecordBody = kMaxRecordContent + 256;

// Whose code runs AES-128-GCM (suite 0x1301): kBest is Warren's own (aes128_gcm.h: VAES and
// VPCLMULQDQ on 512-bit registers) where the CPU has those instructions, else OpenSSL's; the
// environment variable WARREN_TLS_AEAD=openssl makes kBest OpenSSL's everywhere (an A/B
// benchmark, or a CPU to distrust). The other suites always run on OpenSSL.
enum class AeadCode { kBest, kOpenSsl };
// What kBest is in this process: "vaes-avx512" or "openssl".
const char* bestAeadCodeName();

class RecordCipher {
 public:
  // Suites 0x1301 (AES-128-GCM), 0x1302 (AES-256-GCM), 0x1303 (ChaCha20-Poly1305).
  static Result<RecordCipher> create(uint16_t cipher_suite, const TrafficKeys& keys,
                                     AeadCode code = AeadCode::kBest);
  RecordCipher(RecordCipher&&) noexcept = default;
  RecordCipher& operator=(RecordCipher&&) noexcept = default;
  ~RecordCipher();

  // Appends one record carrying `plaintext` (at most 16,384 bytes) as `content_type`.
  Status seal(uint8_t content_type, std::span<const uint8_t> plaintext, OutputBuffer& out);
  // The same for the concatenation of `parts` (at most 16,384 bytes in all), each encrypted
  // from where it lies straight into the output: a record gathered from a frame header and the
  // payload in a stream's buffer is written once, by the cipher.
  Status seal(uint8_t content_type, std::span<const std::span<const uint8_t>> parts,
              OutputBuffer& out);

  struct Opened {
    uint8_t content_type = 0;
    size_t length = 0;  // the content's bytes at the start of the output
  };
  // Opens one whole record (header and body). `out` needs room for the body less the tag; what
  // it gets beyond `length` (the inner type, padding) is scratch. On an error failureAlert() is
  // the alert a TLS stack sends for it (bad_record_mac, record_overflow, unexpected_message...).
  Result<Opened> open(std::span<const uint8_t> record, std::span<uint8_t> out);
  uint8_t failureAlert() const { return alert_; }

  // A KeyUpdate took effect: new key and IV, the sequence number back to 0.
  Status rekey(const TrafficKeys& keys);
  // The key, IV and next sequence number (exportRecordState).
  const TrafficKeys& keys() const { return keys_; }

 private:
  struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  RecordCipher() = default;
  std::array<uint8_t, 12> nonce() const;
  // Checks the key's length and makes the key schedule: ours (aes_) or OpenSSL's (ctx_).
  Status setKeys(const TrafficKeys& keys, bool own_aes);

  const EVP_CIPHER* cipher_ = nullptr;
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx_;
  // AES-128-GCM on Aes128Gcm (AeadCode), holding its key schedule, when set; else OpenSSL's
  // EVP on ctx_ (null while this is set).
  std::unique_ptr<Aes128Gcm> aes_;
  TrafficKeys keys_;
  uint8_t alert_ = 0;
};

// The length field of a record header (the bytes after it); 0 when `header` is shorter.
inline size_t recordBodyLength(std::span<const uint8_t> header) {
  return header.size() < kRecordHeaderBytes ? 0 : (size_t{header[3]} << 8) | header[4];
}

// HKDF-Expand-Label(secret, label, "", length) of RFC 8446 §7.1 with the suite's hash.
Result<std::vector<uint8_t>> expandLabel(const EVP_MD* md, std::span<const uint8_t> secret,
                                         std::string_view label, size_t length);
// A direction's key and IV from its traffic secret (RFC 8446 §7.3); seq 0.
Result<TrafficKeys> trafficKeys(const EVP_MD* md, uint16_t cipher_suite,
                                std::span<const uint8_t> secret);

class RecordLayer {
 public:
  // The suite, its hash (for KeyUpdate), and per direction the current application traffic
  // secret and the next record's sequence number.
  static Result<RecordLayer> create(uint16_t cipher_suite, const EVP_MD* hash,
                                    std::span<const uint8_t> tx_secret, uint64_t tx_seq,
                                    std::span<const uint8_t> rx_secret, uint64_t rx_seq);
  RecordLayer(RecordLayer&&) noexcept = default;
  RecordLayer& operator=(RecordLayer&&) noexcept = default;
  ~RecordLayer();

  // Application data, one record of at most 16,384 bytes (in `parts`: their concatenation).
  Status seal(std::span<const uint8_t> plaintext, OutputBuffer& out);
  Status seal(std::span<const std::span<const uint8_t>> parts, OutputBuffer& out);

  struct Received {
    size_t consumed = 0;   // ciphertext bytes taken (a record cut short is kept here)
    size_t plaintext = 0;  // application data written to the caller's buffer
    bool peer_closed = false;
  };
  // Opens the records in `ciphertext` while `plaintext` has room for the next one. A record cut
  // by the end of `ciphertext` is kept (copied) until its rest arrives. A KeyUpdate that asks
  // for ours is answered into `out`; so is a fatal error, with the alert a TLS stack sends.
  Result<Received> open(std::span<const uint8_t> ciphertext, std::span<uint8_t> plaintext,
                        OutputBuffer& out);

  // close_notify, then nothing more may be sealed.
  Status closeNotify(OutputBuffer& out);
  // Our KeyUpdate (asking the peer for its own when `ask_peer`), sealed under the old key; what
  // follows goes under the new one.
  Status updateKeys(bool ask_peer, OutputBuffer& out);

  // Received bytes held: a partial record, or a handshake message cut across records.
  bool holdsInput() const { return !partial_.empty() || !handshake_.empty(); }
  // The gathering buffers' storage: kept across records (a bulk transfer cuts nearly every
  // record between two reads), given back by releaseIdleMemory() when they are empty.
  size_t bufferCapacity() const { return partial_.capacity() + handshake_.capacity(); }
  void releaseIdleMemory();
  // Both directions now (exportRecordState after the engine switched to this layer).
  RecordState state() const;

 private:
  RecordLayer() = default;
  Status onHandshakeMessages(OutputBuffer& out);
  // A KeyUpdate in one direction: the next traffic secret (RFC 8446 §7.2), its key and IV.
  Status nextKey(std::vector<uint8_t>& secret, RecordCipher& cipher);
  // A fatal error: the alert goes to the peer (best effort), the error to the caller.
  Error fatal(uint8_t alert, Error error, OutputBuffer& out);

  uint16_t suite_ = 0;
  const EVP_MD* hash_ = nullptr;
  std::optional<RecordCipher> tx_, rx_;
  std::vector<uint8_t> tx_secret_, rx_secret_;
  std::vector<uint8_t> partial_;    // a record received in part
  std::vector<uint8_t> handshake_;  // post-handshake message bytes not yet whole
  bool closed_ = false;             // close_notify sealed: nothing more goes out
};

}  // namespace warren::tls
