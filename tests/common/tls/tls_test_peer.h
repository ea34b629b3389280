// Tests only: moving bytes between sans-I/O engines in memory, and a raw OpenSSL peer whose
// configuration the test controls (TLS 1.2 only, no client certificate, other ALPN...) to
// check what our engine refuses.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "common/openssl_ptr.h"
#include "common/sha256.h"
#include "common/tls/tls_engine.h"

namespace warren::tls::testing {

// Moves ciphertext between two engines until neither makes progress (bounded rounds).
// Plaintext each side receives is appended to *_received. Failures are left on the engines
// (failed()/error()); output of a failed engine (its alert) is still delivered.
// `plaintext_chunk` sizes the receive buffer (small values exercise backpressure).
void pump(TlsEngine& client, TlsEngine& server, std::string* client_received = nullptr,
          std::string* server_received = nullptr, size_t plaintext_chunk = 64 * 1024);

// Writes all of `data` (respecting writable()) while pumping, then pumps to quiescence.
void sendAll(TlsEngine& from, TlsEngine& to, std::string_view data, std::string* to_received,
             bool from_is_client);

// A plain OpenSSL endpoint on memory BIOs.
class RawPeer {
 public:
  // Takes a configured SSL_CTX; `client` chooses the connect/accept state.
  RawPeer(ossl::SslCtx ctx, bool client);
  SSL* ssl() const { return ssl_.get(); }

  // Feeds ciphertext, advances the handshake, reads any plaintext into received().
  void feed(std::string_view ciphertext);
  std::string takeOutput();
  bool handshakeDone() const { return done_; }
  bool failed() const { return failed_; }
  const std::string& errorText() const { return error_; }
  const std::string& received() const { return received_; }
  void write(std::string_view data);

 private:
  void drive();

  ossl::SslCtx ctx_;
  ossl::Ssl ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  bool done_ = false;
  bool failed_ = false;
  std::string error_;
  std::string received_;
};

// Pumps between our engine and a raw peer until quiescent.
void pumpRaw(TlsEngine& engine, RawPeer& peer, std::string* engine_received = nullptr);

}  // namespace warren::tls::testing
