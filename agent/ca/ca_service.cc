#include "agent/ca/ca_service.h"

#include <spdlog/spdlog.h>

namespace warren::agent {

CertificateRequest certificateRequestFrom(const istio::v1::auth::IstioCertificateRequest& request) {
  CertificateRequest req;
  req.csr_pem = request.csr();
  req.validity_seconds = request.validity_duration();
  const auto& fields = request.metadata().fields();
  if (auto it = fields.find("ImpersonatedIdentity"); it != fields.end())
    req.impersonated_identity = it->second.string_value();
  return req;
}

grpc::StatusCode grpcCodeFor(const Error& error) {
  if (error.code() == ErrorCode::kInvalidArgument) return grpc::StatusCode::INVALID_ARGUMENT;
  if (error.code() == ErrorCode::kPermissionDenied) return grpc::StatusCode::PERMISSION_DENIED;
  return grpc::StatusCode::INTERNAL;
}

grpc::Status CaService::CreateCertificate(grpc::ServerContext* context,
                                          const istio::v1::auth::IstioCertificateRequest* request,
                                          istio::v1::auth::IstioCertificateResponse* response) {
  CertificateRequest req = certificateRequestFrom(*request);
  auto chain = ca_->sign(req, *model_.snapshot(), std::chrono::system_clock::now());
  if (!chain) {
    refused_++;
    const Error& e = chain.error();
    // The identity and the reason only: never the CSR (nor anything key-shaped).
    spdlog::warn("CA refused {} for {}: {}",
                 req.impersonated_identity.empty() ? "(no identity)" : req.impersonated_identity,
                 context->peer(), e.message());
    return grpc::Status(grpcCodeFor(e), e.message());
  }
  issued_++;
  spdlog::info("CA issued a certificate for {}", req.impersonated_identity);
  for (std::string& pem : *chain) response->add_cert_chain(std::move(pem));
  return grpc::Status::OK;
}

}  // namespace warren::agent
