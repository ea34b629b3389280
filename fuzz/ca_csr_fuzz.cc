// fuzz-link: warren_agent_lib warren_identity_testing
//
// The agent CA's CreateCertificate path (agent/ca) with bytes from a caller on xds.sock:
//
//   byte 0 = 0: the rest is a whole IstioCertificateRequest as gRPC hands it to the service
//               (CSR, validity, metadata struct); certificateRequestFrom + sign, as
//               CaService::CreateCertificate runs them.
//   byte 0 = 1: the rest is the CSR text, asked for a pod that runs on this node.
//   byte 0 = 2: the rest is a DER CSR, wrapped in PEM for the same request (reaches OpenSSL's
//               ASN.1 decoding and the signature and key checks without base64 in the way).
//   byte 0 = 3: the rest is the ImpersonatedIdentity, with a valid CSR.
//
// The cluster (fuzz/fuzz_cluster.h): node "node-a" runs pod demo/web (sa web-sa); node-b runs
// demo/far (far-sa).
// Invariants: a refusal is INVALID_ARGUMENT or PERMISSION_DENIED with a message; a chain is
// signed only for a well-formed identity of a pod on node-a, its leaf carries exactly that
// SPIFFE URI, holds the CSR's public key, is issued by the CA, and is valid for at most the
// longest TTL; the CSR text never shows up in an error message.
//
//   ca_csr_fuzz --make-seeds DIR   writes valid and malformed requests (fuzz/replay_main.cc)
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/ca/ca_service.h"
#include "common/identity/certificate_info.h"
#include "common/identity/csr.h"
#include "common/identity/pem.h"
#include "common/identity/private_key.h"
#include "common/log.h"
#include "fuzz/fuzz_cluster.h"
#include "fuzz/seed_file.h"
#include "tests/common/identity/test_ca.h"

namespace {

using namespace warren;
namespace pb = istio::v1::auth;

constexpr const char* kWebIdentity = "spiffe://cluster.local/ns/demo/sa/web-sa";
constexpr const char* kFarIdentity = "spiffe://cluster.local/ns/demo/sa/far-sa";

void check(bool ok, const char* what) { fuzz::invariant(ok, "ca_csr_fuzz", what); }

struct Fixture {
  identity::testing::TestCa root = identity::testing::TestCa::root("fuzz CA");
  agent::NodeCertificateAuthority ca = *agent::NodeCertificateAuthority::fromPem(
      root.certPem(), *identity::privateKeyToPem(root.key()), "node-a", "cluster.local");
  agent::ClusterModel model;
  ossl::PKey key = *identity::generateEcP256Key();
  std::string csr_pem =
      *identity::createCsrPem(key.get(), *identity::SpiffeId::parse(kWebIdentity));
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();

  Fixture() {
    (void)log::setLevel("off");
    fuzz::loadCluster(model);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::string derToPem(std::string_view der) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "",
                reinterpret_cast<const unsigned char*>(der.data()), static_cast<long>(der.size()));
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

void checkChain(const agent::CertificateRequest& req, const std::vector<std::string>& chain) {
  Fixture& f = fixture();
  check(req.impersonated_identity == kWebIdentity, "signed an identity not on this node");
  check(!chain.empty(), "empty chain");
  auto leaf = identity::certificateFromPem(chain.front());
  check(leaf.has_value(), "leaf does not parse");
  auto info = identity::inspectCertificate(leaf->get());
  check(info.has_value(), "leaf does not decode");
  check(info->uri_sans.size() == 1 && info->uri_sans[0] == kWebIdentity, "leaf URI SAN");
  check(X509_check_issued(f.root.cert(), leaf->get()) == X509_V_OK, "leaf not issued by the CA");
  auto csr = identity::csrFromPem(req.csr_pem);
  check(csr.has_value(), "signed a CSR that does not parse");
  check(EVP_PKEY_eq(X509_get0_pubkey(leaf->get()), X509_REQ_get0_pubkey(csr->get())) == 1,
        "leaf key is not the CSR's");
  check(info->not_after - info->not_before <=
            agent::kMaxCertificateTtl + std::chrono::hours(2),  // backdating slack
        "validity beyond the longest TTL");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Fixture& f = fixture();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  agent::CertificateRequest req;
  switch (data[0] % 4) {
    case 0: {
      pb::IstioCertificateRequest msg;
      if (!msg.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) return 0;
      req = agent::certificateRequestFrom(msg);
      break;
    }
    case 1:
      req.csr_pem = std::string(rest);
      req.impersonated_identity = kWebIdentity;
      break;
    case 2:
      req.csr_pem = derToPem(rest);
      req.impersonated_identity = kWebIdentity;
      break;
    default:
      req.csr_pem = f.csr_pem;
      req.impersonated_identity = std::string(rest);
      break;
  }
  auto chain = f.ca.sign(req, *f.model.snapshot(), f.now);
  if (chain) {
    checkChain(req, *chain);
    return 0;
  }
  auto code = agent::grpcCodeFor(chain.error());
  check(code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::PERMISSION_DENIED,
        "a refusal that is neither invalid argument nor permission denied");
  const std::string msg = chain.error().message();
  check(!msg.empty(), "a refusal without a message");
  check(req.csr_pem.size() < 64 || msg.find(req.csr_pem) == std::string::npos,
        "the CSR echoed in an error");
  return 0;
}

extern "C" int WarrenFuzzMakeSeeds(const char* dir_arg) {
  const std::string dir = dir_arg;
  Fixture& f = fixture();
  auto request = [&](const std::string& csr, const std::string& id, int64_t validity) {
    pb::IstioCertificateRequest msg;
    msg.set_csr(csr);
    msg.set_validity_duration(validity);
    if (!id.empty())
      (*msg.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(id);
    return msg.SerializeAsString();
  };
  // The DER form of the valid CSR.
  auto csr = identity::csrFromPem(f.csr_pem);
  unsigned char* der = nullptr;
  int der_len = i2d_X509_REQ(csr->get(), &der);
  std::string der_csr(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);
  // A P-384 key's CSR (refused: P-256 only).
  ossl::PKey p384(EVP_EC_gen("P-384"));
  std::string p384_csr =
      *identity::createCsrPem(p384.get(), *identity::SpiffeId::parse(kWebIdentity));
  std::string tampered = f.csr_pem;
  tampered[tampered.size() / 2] ^= 0x01;

  using warren::fuzz::writeSeed;
  bool ok = writeSeed(dir, "request_ok", 0, request(f.csr_pem, kWebIdentity, 3600)) &&
            writeSeed(dir, "request_default_ttl", 0, request(f.csr_pem, kWebIdentity, 0)) &&
            writeSeed(dir, "request_huge_ttl", 0, request(f.csr_pem, kWebIdentity, INT64_MAX)) &&
            writeSeed(dir, "request_negative_ttl", 0, request(f.csr_pem, kWebIdentity, -5)) &&
            writeSeed(dir, "request_other_node", 0, request(f.csr_pem, kFarIdentity, 3600)) &&
            writeSeed(dir, "request_no_identity", 0, request(f.csr_pem, "", 3600)) &&
            writeSeed(dir, "request_other_trust_domain", 0,
                      request(f.csr_pem, "spiffe://evil.example/ns/demo/sa/web-sa", 3600)) &&
            writeSeed(dir, "request_p384", 0, request(p384_csr, kWebIdentity, 3600)) &&
            writeSeed(dir, "csr_pem_ok", 1, f.csr_pem) &&
            writeSeed(dir, "csr_pem_tampered", 1, tampered) &&
            writeSeed(dir, "csr_pem_p384", 1, p384_csr) &&
            writeSeed(dir, "csr_pem_cert_instead", 1, f.root.certPem()) &&
            writeSeed(dir, "csr_der_ok", 2, der_csr) &&
            writeSeed(dir, "csr_der_truncated", 2, der_csr.substr(0, der_csr.size() / 2)) &&
            writeSeed(dir, "identity_ok", 3, kWebIdentity) &&
            writeSeed(dir, "identity_far", 3, kFarIdentity) &&
            writeSeed(dir, "identity_garbage", 3, "spiffe://cluster.local/ns//sa/x/../y");
  return ok ? 0 : 1;
}
