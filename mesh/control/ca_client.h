// istio.v1.auth.IstioCertificateService/CreateCertificate client (INTEROP §12): generates a
// fresh EC P-256 key for the identity (the key never leaves the proxy), sends a CSR with
// metadata.ImpersonatedIdentity, and accepts the answer only if the returned leaf chains to
// the returned root and carries exactly the identity asked for.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/identity/workload_certificate.h"
#include "istio/ca/ca.grpc.pb.h"

namespace warren::mesh {

class CaClient {
 public:
  // `target`: a gRPC target ("unix:/run/x/xds.sock", "host:15012"); insecure channel (the lab's
  // unix socket; TLS to istiod is future work).
  explicit CaClient(const std::string& target,
                    std::chrono::seconds validity = std::chrono::hours(24));

  // Blocks up to `timeout`. kUnavailable when the CA cannot be reached, kPermissionDenied when
  // it refuses the identity, kProtocol when its answer is not a valid certificate for `id`.
  Result<identity::WorkloadCertificate> fetch(const identity::SpiffeId& id,
                                              std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<istio::v1::auth::IstioCertificateService::Stub> stub_;
  std::chrono::seconds validity_;
};

}  // namespace warren::mesh
