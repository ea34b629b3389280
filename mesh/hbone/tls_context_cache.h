// TlsContextCache: one TLS context per workload identity and role (client: the outbound pool
// presenting the source pod's certificate; server: 15008 presenting the destination pod's),
// rebuilt when the certificate behind it rotated. One per worker: not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/tls/tls_context.h"
#include "mesh/control/certificate_source.h"

namespace warren::mesh {

class TlsContextCache {
 public:
  TlsContextCache(tls::TlsRole role, CertificateSource& certs) : role_(role), certs_(certs) {}

  // The context presenting `id`'s current certificate; kUnavailable when none is held yet.
  // The pointer stays valid until the next get() for the same identity.
  Result<const tls::TlsContext*> get(const identity::SpiffeId& id);

 private:
  struct Entry {
    CertificateSource::CertPtr cert;
    std::optional<tls::TlsContext> ctx;
  };
  tls::TlsRole role_;
  CertificateSource& certs_;
  std::map<std::string, Entry> entries_;  // by SPIFFE URI
};

}  // namespace warren::mesh
