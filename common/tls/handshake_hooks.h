// OpenSSL callbacks installed on every mesh SSL_CTX (tls_context.cc) and implemented next to
// the engine state they report into (tls_engine.cc). Internal to warren_tls.
#pragma once

#include <openssl/ssl.h>

namespace warren::tls::detail {

// SSL_CTX_set_cert_verify_callback: X.509 path validation against the context's root store,
// then the SPIFFE identity policy of the connection, then (client) ALPN "h2" negotiated.
int verifyPeerChain(X509_STORE_CTX* store_ctx, void* arg);

// SSL_CTX_set_alpn_select_cb (server): selects "h2" or fails with no_application_protocol.
int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg);

// SSL_CTX_set_keylog_callback: keeps the connection's first application traffic secrets (the
// `*_TRAFFIC_SECRET_0` lines) for TlsEngine::exportRecordState; nothing is logged.
void keepTrafficSecret(const SSL* ssl, const char* line);

// SSL_CTX_set_msg_callback: counts the records each direction carried since its application
// key took effect (after that side's Finished, again after a KeyUpdate, whose new secret it
// derives), so the next record's sequence number is known.
void countRecord(int write_p, int version, int content_type, const void* buf, size_t len, SSL* ssl,
                 void* arg);

}  // namespace warren::tls::detail
