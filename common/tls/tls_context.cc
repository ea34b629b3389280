#include "common/tls/tls_context.h"

#include <fmt/format.h>

#include "common/identity/chain_verification.h"
#include "common/identity/openssl_errors.h"
#include "common/tls/handshake_hooks.h"

namespace warren::tls {
namespace {

using identity::opensslError;

// ALPN wire form: length-prefixed protocol names.
constexpr unsigned char kAlpnWire[] = {2, 'h', '2'};

Result<ossl::SslCtx> buildContext(const identity::WorkloadCertificate& cert, TlsRole role) {
  ossl::SslCtx ctx(
      SSL_CTX_new(role == TlsRole::kClient ? TLS_client_method() : TLS_server_method()));
  if (!ctx) return fail(opensslError(ErrorCode::kInternal, "SSL_CTX_new"));
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "restricting to TLS 1.3"));
  }
  if (SSL_CTX_set_ciphersuites(c, TlsContext::kCipherSuites) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "setting TLS 1.3 cipher suites"));
  }
  if (SSL_CTX_set1_groups_list(c, TlsContext::kGroups) != 1) {
    return fail(opensslError(ErrorCode::kInternal, "setting key exchange groups"));
  }
  if (SSL_CTX_use_certificate(c, cert.leaf()) != 1 || SSL_CTX_use_PrivateKey(c, cert.key()) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    return fail(opensslError(ErrorCode::kInvalidArgument, "loading the workload certificate"));
  }
  for (const auto& inter : cert.intermediates()) {
    if (SSL_CTX_add1_chain_cert(c, inter.get()) != 1) {
      return fail(opensslError(ErrorCode::kInvalidArgument, "adding an intermediate"));
    }
  }
  auto store = identity::makeRootStore(cert.roots());
  if (!store) return fail(std::move(store).error().wrap("mesh roots"));
  SSL_CTX_set_cert_store(c, store->release());  // the context takes ownership

  // Resumption off in both roles (INTEROP §2): no cache, no tickets issued or used.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
  if (role == TlsRole::kServer) {
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_alpn_select_cb(c, &detail::selectAlpn, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    // Note: returns 0 on success, unlike most of the API.
    if (SSL_CTX_set_alpn_protos(c, kAlpnWire, sizeof(kAlpnWire)) != 0) {
      return fail(opensslError(ErrorCode::kInternal, "setting ALPN"));
    }
  }
  SSL_CTX_set_cert_verify_callback(c, &detail::verifyPeerChain, nullptr);
  // The record layer's state, exportable after the handshake (kTLS, hand-over on upgrade).
  SSL_CTX_set_keylog_callback(c, &detail::keepTrafficSecret);
  SSL_CTX_set_msg_callback(c, &detail::countRecord);
  return ctx;
}

}  // namespace

Result<TlsContext> TlsContext::client(const identity::WorkloadCertificate& cert) {
  auto ctx = buildContext(cert, TlsRole::kClient);
  if (!ctx)
    return fail(std::move(ctx).error().wrap("TLS client context for " + cert.identity().uri()));
  return TlsContext(std::move(*ctx), TlsRole::kClient, cert.identity());
}

Result<TlsContext> TlsContext::server(const identity::WorkloadCertificate& cert) {
  auto ctx = buildContext(cert, TlsRole::kServer);
  if (!ctx)
    return fail(std::move(ctx).error().wrap("TLS server context for " + cert.identity().uri()));
  return TlsContext(std::move(*ctx), TlsRole::kServer, cert.identity());
}

}  // namespace warren::tls
