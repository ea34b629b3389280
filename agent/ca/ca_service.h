// istio.v1.auth.IstioCertificateService/CreateCertificate on the agent's xds.sock. The caller
// names the identity in metadata["ImpersonatedIdentity"]; the answer is the chain, leaf
// first, root last. Refusals carry a clear gRPC status: INVALID_ARGUMENT (bad CSR, missing or
// malformed identity), PERMISSION_DENIED (identity not of a pod on this node, wrong trust
// domain).
#pragma once

#include <atomic>
#include <memory>

#include "agent/ca/node_certificate_authority.h"
#include "agent/model/cluster_model.h"
#include "istio/ca/ca.grpc.pb.h"

namespace warren::agent {

// The CreateCertificate request as the CA reads it: the CSR, metadata["ImpersonatedIdentity"]
// (a non-string value counts as missing), the asked validity. Pure; the fuzz target
// fuzz/ca_csr_fuzz.cc runs it and NodeCertificateAuthority::sign, as CreateCertificate does.
CertificateRequest certificateRequestFrom(const istio::v1::auth::IstioCertificateRequest& request);

// The gRPC status a refusal from NodeCertificateAuthority::sign is answered with.
grpc::StatusCode grpcCodeFor(const Error& error);

class CaService final : public istio::v1::auth::IstioCertificateService::Service {
 public:
  CaService(std::shared_ptr<const NodeCertificateAuthority> ca, const ClusterModel& model)
      : ca_(std::move(ca)), model_(model) {}

  grpc::Status CreateCertificate(grpc::ServerContext* context,
                                 const istio::v1::auth::IstioCertificateRequest* request,
                                 istio::v1::auth::IstioCertificateResponse* response) override;

  uint64_t issued() const { return issued_; }
  uint64_t refused() const { return refused_; }

 private:
  std::shared_ptr<const NodeCertificateAuthority> ca_;
  const ClusterModel& model_;
  std::atomic<uint64_t> issued_{0}, refused_{0};
};

}  // namespace warren::agent
