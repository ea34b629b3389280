// What a certificate says, decoded once into plain values: for logs, the admin config dump,
// refresh scheduling and identity checks.
#pragma once

#include <openssl/x509v3.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/identity/spiffe_id.h"

namespace warren::identity {

using Clock = std::chrono::system_clock;

struct CertificateInfo {
  std::string serial_hex;  // upper-case hex, no separators ("0A1B...")
  Clock::time_point not_before;
  Clock::time_point not_after;
  std::string subject;                // RFC 2253 form; "" for mesh leaves (empty subject)
  std::string issuer;                 // RFC 2253 form
  std::vector<std::string> uri_sans;  // every URI SAN, verbatim
  std::vector<SpiffeId> identities;   // the URI SANs that parse as SPIFFE IDs
  bool is_ca = false;                 // basicConstraints CA:TRUE
  bool self_issued = false;           // issuer == subject and the key signs itself
};

// Decodes `cert`. Fails only when a field cannot be decoded at all (for example a
// notAfter OpenSSL cannot parse); URI SANs that are not SPIFFE IDs are kept in uri_sans only.
Result<CertificateInfo> inspectCertificate(X509* cert);

// The URI entries of a GeneralNames list (certificate or CSR SAN extension).
std::vector<std::string> uriSansOf(const GENERAL_NAMES* names);

// The SPIFFE identities of `cert`'s URI SANs (others ignored).
std::vector<SpiffeId> spiffeIdsOf(X509* cert);

// "2026-12-03T07:16:17Z": RFC 3339 UTC, seconds precision, as the admin API shows validity
// (warrenctl/README.md) and the config dump's certificates carry it.
std::string rfc3339(Clock::time_point t);

// ASN1_TIME -> time_point; an error when the value is malformed.
Result<Clock::time_point> asn1TimeToTimePoint(const ASN1_TIME* t);

}  // namespace warren::identity
