#include "agent/ca/node_certificate_authority.h"

#include <fstream>
#include <sstream>

#include "common/identity/csr.h"
#include "common/identity/private_key.h"

namespace warren::agent {
namespace {

Result<std::string> readFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return fail(WARREN_SYS_ERROR("read " + path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

Status authorizeIdentity(const ClusterSnapshot& snap, const std::string& node,
                         const std::string& trust_domain, const identity::SpiffeId& id) {
  if (id.trustDomain() != trust_domain)
    return fail(Error(ErrorCode::kPermissionDenied, "identity " + id.uri() + ": trust domain '" +
                                                        id.trustDomain() + "' is not '" +
                                                        trust_domain + "'"));
  bool elsewhere = false;
  for (const auto& [key, shared] : snap.pods) {
    const k8s::Pod& pod = *shared;
    if (pod.meta.namespace_ != id.ns() || pod.spec.service_account_name != id.serviceAccount())
      continue;
    if (pod.status.phase == "Succeeded" || pod.status.phase == "Failed") continue;
    if (pod.spec.node_name == node) return ok();
    elsewhere = true;
  }
  return fail(Error(ErrorCode::kPermissionDenied,
                    "identity " + id.uri() + ": no pod with service account " +
                        id.serviceAccount() + " in namespace " + id.ns() + " runs on node " + node +
                        (elsewhere ? " (only on other nodes)" : "")));
}

Result<NodeCertificateAuthority> NodeCertificateAuthority::fromPem(const std::string& cert_pem,
                                                                   const std::string& key_pem,
                                                                   std::string node,
                                                                   std::string trust_domain) {
  auto issuer = identity::CertificateIssuer::fromPem(cert_pem, key_pem);
  if (!issuer) return fail(issuer.error());
  return NodeCertificateAuthority(std::move(*issuer), std::move(node), std::move(trust_domain));
}

Result<NodeCertificateAuthority> NodeCertificateAuthority::load(const std::string& ca_dir,
                                                                std::string node,
                                                                std::string trust_domain) {
  auto cert = readFile(ca_dir + "/ca.crt");
  if (!cert) return fail(cert.error());
  auto key = readFile(ca_dir + "/ca.key");
  if (!key) return fail(key.error());
  auto ca = fromPem(*cert, *key, std::move(node), std::move(trust_domain));
  if (!ca) return fail(ca.error().wrap("CA in " + ca_dir));
  return ca;
}

Result<std::vector<std::string>> NodeCertificateAuthority::sign(
    const CertificateRequest& req, const ClusterSnapshot& snap,
    std::chrono::system_clock::time_point now) const {
  if (req.impersonated_identity.empty())
    return fail(
        Error::invalid("metadata ImpersonatedIdentity is missing: name the workload identity"));
  auto id = identity::SpiffeId::parse(req.impersonated_identity);
  if (!id) return fail(Error::invalid("ImpersonatedIdentity: " + id.error().message()));
  if (req.validity_seconds < 0)
    return fail(Error::invalid("validity_duration " + std::to_string(req.validity_seconds) +
                               " is negative"));
  std::chrono::seconds ttl = req.validity_seconds == 0 ? kDefaultCertificateTtl
                                                       : std::chrono::seconds(req.validity_seconds);
  if (ttl > kMaxCertificateTtl) ttl = kMaxCertificateTtl;
  // The CSR first (so garbage is "invalid argument" whoever asks), then the identity.
  auto csr = identity::csrFromPem(req.csr_pem);
  if (!csr) return fail(Error::invalid("csr: " + csr.error().message()));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(csr->get());
  if (pub == nullptr || !identity::isEcP256(pub))
    return fail(Error::invalid("csr: the key must be EC P-256"));
  WARREN_TRY(authorizeIdentity(snap, node_, trust_domain_, *id));
  auto chain = issuer_.issue(req.csr_pem, *id, ttl, now);
  if (!chain) return fail(chain.error());
  return chain;
}

}  // namespace warren::agent
