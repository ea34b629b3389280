// A TLS 1.3 connection's record layer after the handshake, as plain data: the cipher suite and,
// per direction, the AEAD key, the 12-byte static IV and the next record's sequence number
// (RFC 8446 §5.3: the nonce of record `seq` is iv XOR seq, left-padded). With it another record
// layer carries on where OpenSSL stopped: the kernel's (kTLS, kernel_tls.h), or a new ztunnel
// that takes over an established connection on upgrade. Secret material: never log it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace warren::tls {

struct TrafficKeys {
  std::vector<uint8_t> key;  // 16 (AES-128-GCM) or 32 (AES-256-GCM, ChaCha20-Poly1305) bytes
  std::array<uint8_t, 12> iv{};
  uint64_t seq = 0;  // the sequence number of the next record in this direction
};

// The AEAD key length of a TLS 1.3 suite: 16 bytes for TLS_AES_128_GCM_SHA256 (0x1301), 32 for
// the others (0x1302 AES-256-GCM, 0x1303 ChaCha20-Poly1305).
inline size_t keyLength(uint16_t cipher_suite) { return cipher_suite == 0x1301 ? 16 : 32; }

struct RecordState {
  uint16_t cipher_suite = 0;  // IANA id: 0x1301 TLS_AES_128_GCM_SHA256, 0x1302, 0x1303
  TrafficKeys tx;             // what we send
  TrafficKeys rx;             // what the peer sends
};

// Overwrites the keys and IVs (OPENSSL_cleanse) once they have been handed on.
void cleanse(RecordState& state);

}  // namespace warren::tls
