// A sans-I/O mutual TLS 1.3 connection: ciphertext in, plaintext out, and the reverse. The
// engine never touches a socket; the caller moves bytes (io_uring in ztunnel, a loop in tests).
//
//   receive:  feed(ciphertext, plaintext_buffer) -> {consumed, plaintext, events}
//   send:     write(plaintext[, Flush::kLater]) ... flush();  then drain pendingOutput()
//   close:    shutdown() queues close_notify; peerClosed() says the peer sent its own.
//
// Copies. feed() hands the caller's ciphertext to OpenSSL through a custom BIO that reads the
// caller's span in place (no intermediate BIO buffer) and decrypts into the caller's buffer.
// Output ciphertext is appended to one reusable buffer that the caller either reads in place
// (pendingOutput()/consumeOutput(), e.g. for a synchronous send), copies out (takeOutput(span)),
// or takes whole (takeOutput(spare): the buffer itself, for an io_uring send that must stay
// stable until completion, exchanged for the last send's buffer).
//
// Backpressure. feed() stops pulling ciphertext when the plaintext buffer is full: consumed <
// ciphertext.size() means "hand me the rest again later", and hasBufferedPlaintext() says the
// engine still holds decrypted bytes. write() accepts at most writable() bytes, where
// writable() = output_limit - (unsent ciphertext + staged plaintext); it returns how much it
// took. The limit is soft by at most one handshake flight or KeyUpdate plus record overhead.
//
// Record policy. Plaintext is cut into 16 KiB records (the TLS maximum), the cheapest per byte.
// write(..., Flush::kNow) (the default) encrypts everything immediately: full records straight
// from the caller's memory, the tail as one short record, so a small write goes out at once.
// write(..., Flush::kLater) encrypts only full 16 KiB records and stages the tail (copied, at
// most 16 KiB) until more data fills a record or flush() is called; use it while producing a
// batch (e.g. several HTTP/2 frames in one event-loop turn) and flush() at the end of the turn.
// Writes before the handshake finishes are staged and sent when it completes.
// writeMessage(parts) is write(..., kLater) for one message given in pieces (an HTTP/2 frame:
// its 9-byte header and the payload where it lies in the stream's buffer), taken whole or not
// at all, and never cut across two records when it fits in one: a message that does not fit
// beside what is staged first ends the staged record early. With the own record layer a full
// record is encrypted from the pieces straight into the output (no copy before the cipher).
//
// The record layer can be handed over (exportRecordState, then handOverRecordLayer): the
// traffic keys and sequence numbers go to the kernel (kTLS, kernel_tls.h) and the engine then
// passes bytes through unchanged. The engine follows KeyUpdates both ways to keep that state.
//
// Errors are values. The first failure (bad record, alert, verification) is sticky: every later
// call returns it. After a failure pendingOutput() may still hold an alert for the peer; send
// it best-effort before closing the socket. Nothing here throws.
//
// Not thread-safe: one engine belongs to one connection on one worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/tls/record_state.h"
#include "common/tls/tls_context.h"

namespace warren::tls {

struct TlsEngineOptions {
  // Soft bound of unsent ciphertext plus staged plaintext, in bytes. 64 KiB = 3 full records:
  // the two output buffers a connection alternates (one being filled, one being sent) stay in
  // a core's L2 cache, so sealing a record writes into warm lines. At 256 KiB the pair filled
  // the 512 KiB L2 of the bench machine and the seal's copy cost ~6x the same copy elsewhere
  // (7.6 % of the sending ztunnel against 1.3 %); 64 KiB is still ~50 us of a 10 Gbit/s path
  // per send, a few loop turns.
  size_t output_limit = 64 * 1024;
  // As the handshake completes, the engine's own record layer takes the records
  // (useOwnRecordLayer) where it can: set when no kTLS hand-off will follow. A switch later
  // waits for a read that ends on a record boundary, which a bulk transfer may not offer.
  bool own_records_at_handshake = false;
};

enum class Flush { kNow, kLater };

struct FeedResult {
  size_t consumed = 0;               // ciphertext bytes taken; feed the rest again later
  size_t plaintext = 0;              // plaintext bytes written to the caller's buffer
  bool handshake_completed = false;  // the handshake finished during this call
  bool peer_closed = false;          // close_notify arrived during this call
};

class TlsEngine {
 public:
  // Largest TLS plaintext record (RFC 8446 §5.1).
  static constexpr size_t kMaxRecordPlaintext = 16384;
  // TLS 1.3 AEAD record overhead: 5 header + 1 inner content type + 16 tag.
  static constexpr size_t kRecordOverhead = 22;

  // A client connection; the ClientHello is ready in pendingOutput() on return. The server
  // must present one of `expected_server_ids` (at least one is required).
  static Result<TlsEngine> client(const TlsContext& ctx,
                                  std::vector<identity::SpiffeId> expected_server_ids,
                                  TlsEngineOptions options = {});
  static Result<TlsEngine> server(const TlsContext& ctx, TlsEngineOptions options = {});

  TlsEngine(TlsEngine&&) noexcept;
  TlsEngine& operator=(TlsEngine&&) noexcept;
  ~TlsEngine();

  // Processes ciphertext from the network: advances the handshake and decrypts application
  // data into `plaintext` (which may be empty during the handshake).
  Result<FeedResult> feed(std::span<const uint8_t> ciphertext, std::span<uint8_t> plaintext);

  // Queues plaintext for the peer; returns the number of bytes accepted (<= writable()).
  Result<size_t> write(std::span<const uint8_t> plaintext, Flush flush = Flush::kNow);
  // One message in pieces (see "Record policy" above), as write(..., Flush::kLater) of their
  // concatenation: false, taking nothing, when it does not fit in writable() (a message always
  // fits when nothing is pending, so one larger than the limit still goes).
  Result<bool> writeMessage(std::span<const std::span<const uint8_t>> parts);
  // Encrypts staged plaintext now (a short record).
  Status flush();
  // Queues close_notify (after staged data). Further writes fail; reading continues until
  // the peer's close_notify.
  Status shutdown();

  // How many plaintext bytes write() accepts now.
  size_t writable() const;

  // Ciphertext to send, in place. Valid until the next non-const call.
  std::span<const uint8_t> pendingOutput() const;
  void consumeOutput(size_t n);
  // Copies up to out.size() bytes of pending ciphertext into `out` and consumes them.
  size_t takeOutput(std::span<uint8_t> out);
  // All pending ciphertext as a buffer of its own, for a send that needs one stable until it
  // completes; `spare` (e.g. the last send's buffer) becomes the engine's output storage. The
  // bytes are not copied when none of them was consumed in place (OutputBuffer::takeAll).
  std::vector<char> takeOutput(std::vector<char> spare);

  // Frees the output and staging storage (and the own record layer's gathering buffers) when
  // empty (they otherwise keep their capacity, up to ~output_limit, to avoid an allocation per
  // burst). Call it when a pooled connection goes idle. Returns the bytes of capacity still held.
  size_t releaseIdleMemory();
  // The output, staging and gathering storage held now (their capacity, used or not).
  size_t bufferCapacity() const;

  // TLS 1.3 KeyUpdate: new keys for what we send (queued now); `ask_peer` asks the peer to
  // renew its own too.
  Status updateKeys(bool ask_peer);

  // The record layer, for another to carry on where this engine stops: the traffic keys and
  // the next sequence number per direction. Only at a clean boundary: after the handshake,
  // before close_notify, with no plaintext staged, no ciphertext unsent and no received bytes
  // held (each refusal names which).
  Result<RecordState> exportRecordState() const;
  // Once the exported state carries the connection elsewhere (the kernel): feed() and write()
  // pass bytes through unchanged, flush() does nothing, and shutdown() queues no close_notify
  // (the kernel sends alerts only as records of their own type; the TCP close ends the
  // connection). Fails, changing nothing, where exportRecordState() would.
  Status handOverRecordLayer();
  bool recordLayerHandedOver() const;
  // From now on this engine seals and opens the records itself (record_layer.h) with the
  // exported state, instead of OpenSSL's record layer: one copy per record sent instead of
  // two, none per record received in one piece instead of two, and no per-record OpenSSL
  // bookkeeping. Everything else stays as it was (KeyUpdate, close_notify, alerts, export).
  // Needs a boundary on the receive side only (nothing OpenSSL holds of a record, no KeyUpdate
  // of ours due): records OpenSSL sealed and not yet sent, and staged plaintext, stay in order
  // ahead of ours. Fails, changing nothing, otherwise.
  Status useOwnRecordLayer();
  bool ownRecordLayer() const;

  bool handshakeDone() const;
  bool peerClosed() const;    // close_notify received
  bool shutdownSent() const;  // our close_notify queued
  bool failed() const;
  // The sticky error after failed(), else nullptr.
  const Error* error() const;
  // Decrypted bytes held inside the engine (the last plaintext buffer was too small).
  bool hasBufferedPlaintext() const;

  // After the handshake: the peer's verified SPIFFE identity, the ALPN protocol ("h2"), the
  // negotiated cipher suite name.
  const std::optional<identity::SpiffeId>& peerIdentity() const;
  std::string_view alpn() const;
  std::string_view cipherName() const;

  struct Impl;

 private:
  explicit TlsEngine(std::unique_ptr<Impl> impl);
  // Heap state: OpenSSL callbacks hold its address, which must survive moves of the handle.
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::tls
