#include "agent/proxy/waypoint_ca_service.h"

#include <spdlog/spdlog.h>

#include "agent/proxy/proxy_socket_server.h"

namespace warren::agent {

grpc::Status WaypointCaService::CreateCertificate(
    grpc::ServerContext* context, const istio::v1::auth::IstioCertificateRequest* request,
    istio::v1::auth::IstioCertificateResponse* response) {
  auto snap = model_.snapshot();
  auto refuse = [&](grpc::StatusCode code, const std::string& why) {
    refused_++;
    spdlog::warn("proxy CA refused {}: {}", context->peer(), why);
    return grpc::Status(code, why);
  };
  auto caller = ProxySocketServer::waypointOf(*context, *snap, ca_->node(), trust_domain_);
  if (!caller) return refuse(grpc::StatusCode::PERMISSION_DENIED, caller.error().message());
  const auto& fields = request->metadata().fields();
  if (auto it = fields.find("ImpersonatedIdentity"); it != fields.end()) {
    const std::string& asked = it->second.string_value();
    if (!asked.empty() && asked != caller->identity.uri())
      return refuse(grpc::StatusCode::PERMISSION_DENIED,
                    caller->describe() + " may only ask for its own identity " +
                        caller->identity.uri() + ", not " + asked);
  }
  CertificateRequest req;
  req.csr_pem = request->csr();
  req.validity_seconds = request->validity_duration();
  req.impersonated_identity = caller->identity.uri();
  auto chain = ca_->sign(req, *snap, std::chrono::system_clock::now());
  if (!chain) {
    const Error& e = chain.error();
    return refuse(e.code() == ErrorCode::kInvalidArgument    ? grpc::StatusCode::INVALID_ARGUMENT
                  : e.code() == ErrorCode::kPermissionDenied ? grpc::StatusCode::PERMISSION_DENIED
                                                             : grpc::StatusCode::INTERNAL,
                  e.message());
  }
  issued_++;
  spdlog::info("proxy CA issued {} to {}", caller->identity.uri(), caller->describe());
  for (std::string& pem : *chain) response->add_cert_chain(std::move(pem));
  return grpc::Status::OK;
}

}  // namespace warren::agent
