// istio.v1.auth.IstioCertificateService/CreateCertificate on the proxy socket: like the node
// CA on xds.sock, but the identity is the calling pod's own (ProxySocketServer::waypointOf),
// never one the caller names. A request whose ImpersonatedIdentity names anyone else is refused
// (PERMISSION_DENIED): unlike ztunnel, a waypoint may not impersonate.
#pragma once

#include <atomic>
#include <memory>

#include "agent/ca/node_certificate_authority.h"
#include "agent/model/cluster_model.h"
#include "istio/ca/ca.grpc.pb.h"

namespace warren::agent {

class WaypointCaService final : public istio::v1::auth::IstioCertificateService::Service {
 public:
  WaypointCaService(std::shared_ptr<const NodeCertificateAuthority> ca, const ClusterModel& model,
                    std::string trust_domain)
      : ca_(std::move(ca)), model_(model), trust_domain_(std::move(trust_domain)) {}

  grpc::Status CreateCertificate(grpc::ServerContext* context,
                                 const istio::v1::auth::IstioCertificateRequest* request,
                                 istio::v1::auth::IstioCertificateResponse* response) override;

  uint64_t issued() const { return issued_; }
  uint64_t refused() const { return refused_; }

 private:
  std::shared_ptr<const NodeCertificateAuthority> ca_;
  const ClusterModel& model_;
  std::string trust_domain_;
  std::atomic<uint64_t> issued_{0}, refused_{0};
};

}  // namespace warren::agent
