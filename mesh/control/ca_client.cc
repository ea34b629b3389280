#include "mesh/control/ca_client.h"

#include <fmt/format.h>

#include "common/identity/csr.h"
#include "common/identity/private_key.h"

namespace warren::mesh {

CaClient::CaClient(const std::string& target, std::chrono::seconds validity)
    : stub_(istio::v1::auth::IstioCertificateService::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))),
      validity_(validity) {}

Result<identity::WorkloadCertificate> CaClient::fetch(const identity::SpiffeId& id,
                                                      std::chrono::milliseconds timeout) {
  auto key = identity::generateEcP256Key();
  if (!key) return fail(key.error().wrap("generating key for " + id.uri()));
  auto csr = identity::createCsrPem(key->get(), id);
  if (!csr) return fail(csr.error().wrap("CSR for " + id.uri()));

  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr(*csr);
  req.set_validity_duration(validity_.count());
  (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(id.uri());
  istio::v1::auth::IstioCertificateResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Status st = stub_->CreateCertificate(&ctx, req, &resp);
  if (!st.ok()) {
    ErrorCode code = ErrorCode::kUnavailable;
    if (st.error_code() == grpc::StatusCode::PERMISSION_DENIED) code = ErrorCode::kPermissionDenied;
    if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) code = ErrorCode::kInvalidArgument;
    return fail(Error(code, fmt::format("CreateCertificate for {}: {} ({})", id.uri(),
                                        st.error_message(), int(st.error_code()))));
  }
  std::vector<std::string> chain(resp.cert_chain().begin(), resp.cert_chain().end());
  if (chain.size() < 2) {
    return fail(Error(ErrorCode::kProtocol,
                      fmt::format("CreateCertificate for {}: {} certificates in cert_chain, want "
                                  "leaf..root",
                                  id.uri(), chain.size())));
  }
  auto cert = identity::WorkloadCertificate::fromCaResponse(std::move(*key), chain);
  auto protocol = [&](const Error& e) {
    return fail(Error(ErrorCode::kProtocol, "CA answer for " + id.uri() + ": " + e.message()));
  };
  if (!cert) return protocol(cert.error());
  if (auto s = cert->expectIdentity(id); !s) return protocol(s.error());
  if (auto s = cert->verify(std::chrono::system_clock::now()); !s) return protocol(s.error());
  return std::move(*cert);
}

}  // namespace warren::mesh
