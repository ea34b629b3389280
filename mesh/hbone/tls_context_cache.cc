#include "mesh/hbone/tls_context_cache.h"

namespace warren::mesh {

Result<const tls::TlsContext*> TlsContextCache::get(const identity::SpiffeId& id) {
  auto cert = certs_.get(id);
  if (!cert) {
    return fail(Error(ErrorCode::kUnavailable, "no certificate yet for " + id.uri()));
  }
  auto& e = entries_[id.uri()];
  if (e.cert != cert || !e.ctx) {
    auto ctx = role_ == tls::TlsRole::kClient ? tls::TlsContext::client(*cert)
                                              : tls::TlsContext::server(*cert);
    if (!ctx) {
      entries_.erase(id.uri());
      return fail(ctx.error().wrap("TLS context for " + id.uri()));
    }
    e.cert = std::move(cert);
    e.ctx.emplace(std::move(*ctx));
  }
  return &*e.ctx;
}

}  // namespace warren::mesh
