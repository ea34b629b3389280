// The kernel's TLS record layer (kTLS, Linux CONFIG_TLS) for an established connection: the
// handshake stays in OpenSSL (TlsEngine), the exported RecordState goes to the socket with
// setsockopt(SOL_TCP, TCP_ULP, "tls") and setsockopt(SOL_TLS, TLS_TX / TLS_RX), and from then on
// the socket takes and returns plaintext while the kernel seals and opens the records (and the
// engine passes bytes through: TlsEngine::handOverRecordLayer). Where the kernel has no TLS ULP
// the process learns it once, before its first connection (kernelHasTlsUlp), and every
// connection's own engine takes the records from the handshake on; a refusal later (a version
// or cipher the kernel does not take) is remembered the same way.
//
// What the kernel path does not do (a connection that meets one ends, as on a TLS error): a
// record of another type than application data arriving (the peer's KeyUpdate, alert or
// close_notify: recv fails with EIO, as without a TLS_GET_RECORD_TYPE control message), and
// close_notify on our side (the TCP close ends the connection).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/tls/record_state.h"

namespace warren::tls {

enum class KernelTlsMode {
  kAuto,  // hand established connections to the kernel where it has the TLS ULP
  kOff,   // always the user-space record layer
};

// "auto" or "off"; the error names the flag's accepted values.
Result<KernelTlsMode> parseKernelTlsMode(std::string_view text);

// Process-wide (set once from the binary's --kernel-tls flag before connections open); auto
// asks the kernel for the TLS ULP there and then (kernelTlsWanted).
void setKernelTlsMode(KernelTlsMode mode);
// Whether a connection should try: the mode is auto, the kernel has the TLS ULP (asked once, at
// the first call: kernelHasTlsUlp) and no attempt has shown it refuses (a version or cipher it
// does not take).
bool kernelTlsWanted();

// Asks the kernel for the TLS ULP on an unconnected TCP socket (setsockopt TCP_ULP "tls": the
// kernel finds the ULP, loading the module if the caller has CAP_NET_ADMIN, and the ULP then
// refuses the socket, which is not established): false on ENOENT (no CONFIG_TLS, or the tls
// module not loaded and no CAP_NET_ADMIN to load it: `modprobe tls`), true on any other answer
// (a refusal later is learned per connection). An error only when no socket could be made.
Result<bool> kernelHasTlsUlp();

namespace testing {
// Forgets what the process learned (the start-up check's answer and any refusal), as if the
// kernel had the ULP: the next connections offer their records again (tests of that path on a
// kernel without it).
void forgetKernelTlsRefusal();
}  // namespace testing

// The setsockopt(SOL_TLS, TLS_TX | TLS_RX) value for one direction of a TLS 1.3 connection:
// struct tls12_crypto_info_aes_gcm_128 / _aes_gcm_256 / _chacha20_poly1305 (the 12-byte IV
// split into a 4-byte salt and an 8-byte iv for AES-GCM; the sequence number big-endian).
Result<std::vector<uint8_t>> kernelCryptoInfo(uint16_t cipher_suite, const TrafficKeys& keys);

// Hands both directions of the connected TCP socket `fd` to the kernel, TX first. Errors:
// kUnavailable when nothing changed (no TLS ULP on this kernel; a version or cipher the kernel
// refuses; the ULP already attached): the connection carries on in user space. Any other code:
// one direction was installed and the other refused; the connection cannot continue and must be
// closed. Every refusal of the ULP or a direction but EEXIST is remembered: kernelTlsWanted()
// then says no, and later connections do not call this (it always makes the syscalls).
Status installKernelTls(int fd, const RecordState& state);

struct KernelTlsCounts {
  uint64_t installed = 0;    // connections whose records the kernel carries
  uint64_t unavailable = 0;  // attempts that left the connection in user space
  uint64_t failed = 0;       // attempts that broke the connection (half installed)
};
KernelTlsCounts kernelTlsCounts();

}  // namespace warren::tls
