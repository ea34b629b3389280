// Mesh TLS configuration for one local workload identity, shared by every connection that
// identity makes or accepts (INTEROP §2, ztunnel's src/tls/certificate.rs):
//   - TLS 1.3 only; cipher suites TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384;
//     groups X25519, P-256, P-384;
//   - ALPN "h2" required in both directions (a peer that does not negotiate it fails);
//   - our chain (leaf + intermediates) presented in both roles; on the client side that is the
//     *source workload's* chain;
//   - peer chains verified against the mesh roots of the WorkloadCertificate;
//   - client: no SNI, no session resumption (no cache, no tickets); the server's SPIFFE URI
//     SAN must be one of the expected identities given per connection (TlsEngine::client);
//   - server: a client certificate is required and its trust domain must equal ours; which
//     client identity is allowed is left to authorization policy.
// Built once per certificate (rebuild on rotation); engines keep the SSL_CTX alive by refcount,
// so a context may be dropped while its connections live on.
#pragma once

#include <string>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/identity/workload_certificate.h"
#include "common/openssl_ptr.h"

namespace warren::tls {

enum class TlsRole { kClient, kServer };

class TlsContext {
 public:
  static Result<TlsContext> client(const identity::WorkloadCertificate& cert);
  static Result<TlsContext> server(const identity::WorkloadCertificate& cert);

  TlsRole role() const { return role_; }
  const identity::SpiffeId& localIdentity() const { return local_; }
  SSL_CTX* raw() const { return ctx_.get(); }

  // Wire constants, exposed for tests and interop tools.
  static constexpr const char* kCipherSuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";
  static constexpr const char* kGroups = "X25519:P-256:P-384";
  static constexpr std::string_view kAlpnH2 = "h2";

 private:
  TlsContext(ossl::SslCtx ctx, TlsRole role, identity::SpiffeId local)
      : ctx_(std::move(ctx)), role_(role), local_(std::move(local)) {}

  ossl::SslCtx ctx_;
  TlsRole role_;
  identity::SpiffeId local_;
};

}  // namespace warren::tls
