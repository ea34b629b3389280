#include "tests/common/tls/tls_test_peer.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <vector>

#include "common/identity/openssl_errors.h"

namespace warren::tls::testing {
namespace {

// Feeds `from`'s pending output into `to`. Returns true when bytes moved.
bool moveOnce(TlsEngine& from, TlsEngine& to, std::string* received, std::vector<uint8_t>& buf) {
  bool progress = false;
  for (int i = 0; i < 100000; ++i) {
    auto pending = from.pendingOutput();
    if (to.failed()) return progress;
    if (pending.empty() && !to.hasBufferedPlaintext()) return progress;
    auto r = to.feed(pending, buf);
    if (!r) return true;
    from.consumeOutput(r->consumed);
    if (received != nullptr) received->append(reinterpret_cast<char*>(buf.data()), r->plaintext);
    if (r->consumed == 0 && r->plaintext == 0) return progress;
    progress = true;
  }
  ADD_FAILURE() << "moveOnce did not settle";
  return progress;
}

}  // namespace

void pump(TlsEngine& client, TlsEngine& server, std::string* client_received,
          std::string* server_received, size_t plaintext_chunk) {
  std::vector<uint8_t> buf(plaintext_chunk);
  for (int round = 0; round < 1000; ++round) {
    bool a = moveOnce(client, server, server_received, buf);
    bool b = moveOnce(server, client, client_received, buf);
    if (!a && !b) return;
  }
  ADD_FAILURE() << "pump did not settle in 1000 rounds";
}

void sendAll(TlsEngine& from, TlsEngine& to, std::string_view data, std::string* to_received,
             bool from_is_client) {
  std::vector<uint8_t> buf(256 * 1024);
  size_t off = 0;
  for (int i = 0; i < 10'000'000 && off < data.size(); ++i) {
    auto w = from.write({reinterpret_cast<const uint8_t*>(data.data()) + off, data.size() - off});
    ASSERT_TRUE(w) << w.error().message();
    off += *w;
    // Drain: the receiver's plaintext lands in to_received.
    moveOnce(from, to, to_received, buf);
    ASSERT_FALSE(to.failed()) << to.error()->message();
  }
  ASSERT_EQ(off, data.size());
  if (from_is_client) {
    pump(from, to, nullptr, to_received);
  } else {
    pump(to, from, to_received, nullptr);
  }
}

RawPeer::RawPeer(ossl::SslCtx ctx, bool client) : ctx_(std::move(ctx)) {
  ssl_.reset(SSL_new(ctx_.get()));
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_.get(), rbio_, wbio_);
  if (client) {
    SSL_set_connect_state(ssl_.get());
    drive();
  } else {
    SSL_set_accept_state(ssl_.get());
  }
}

void RawPeer::drive() {
  if (failed_) return;
  ERR_clear_error();
  if (!done_) {
    int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) {
      done_ = true;
    } else {
      int e = SSL_get_error(ssl_.get(), rc);
      if (e != SSL_ERROR_WANT_READ) {
        failed_ = true;
        error_ = identity::drainOpensslErrors();
        return;
      }
      return;
    }
  }
  char buf[16384];
  for (int i = 0; i < 100000; ++i) {
    size_t n = 0;
    int rc = SSL_read_ex(ssl_.get(), buf, sizeof(buf), &n);
    if (rc == 1) {
      received_.append(buf, n);
      continue;
    }
    int e = SSL_get_error(ssl_.get(), rc);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_ZERO_RETURN) {
      failed_ = true;
      error_ = identity::drainOpensslErrors();
    }
    return;
  }
}

void RawPeer::feed(std::string_view ciphertext) {
  if (!ciphertext.empty()) BIO_write(rbio_, ciphertext.data(), static_cast<int>(ciphertext.size()));
  drive();
}

std::string RawPeer::takeOutput() {
  char* data = nullptr;
  long len = BIO_get_mem_data(wbio_, &data);
  std::string out(data, static_cast<size_t>(len));
  (void)BIO_reset(wbio_);
  return out;
}

void RawPeer::write(std::string_view data) {
  size_t n = 0;
  ASSERT_EQ(SSL_write_ex(ssl_.get(), data.data(), data.size(), &n), 1);
}

void pumpRaw(TlsEngine& engine, RawPeer& peer, std::string* engine_received) {
  std::vector<uint8_t> buf(64 * 1024);
  for (int round = 0; round < 1000; ++round) {
    bool progress = false;
    auto out = engine.pendingOutput();
    if (!out.empty()) {
      peer.feed(std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
      engine.consumeOutput(out.size());
      progress = true;
    }
    std::string back = peer.takeOutput();
    std::string_view rest = back;
    if (!rest.empty()) progress = true;
    while (!rest.empty() && !engine.failed()) {
      auto r = engine.feed({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()}, buf);
      if (!r) break;
      if (engine_received)
        engine_received->append(reinterpret_cast<char*>(buf.data()), r->plaintext);
      rest.remove_prefix(r->consumed);
      progress = true;
      if (r->consumed == 0 && r->plaintext == 0) break;
    }
    if (!progress) return;
  }
  ADD_FAILURE() << "pumpRaw did not settle";
}

}  // namespace warren::tls::testing
