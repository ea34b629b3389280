// warren-xds-probe: a small gRPC client for the agent's xds.sock, for the lab and debugging.
//   warren-xds-probe --socket PATH xds [--type address|authorization|routes|policies] [--wait-for
//   NAME]
//                    [--timeout-ms N] [--json]
//     subscribes (wildcard), prints "+ name version" / "- name" for the first response (and
//     later ones until NAME is seen), exit 0 when done (or NAME seen), 1 on timeout or when the
//     server refuses the stream (its gRPC status on stderr). --json prints each resource as one
//     line of JSON ({"name", "version", "resource"}) instead of "+ name version".
//     On <run-dir>/proxy/xds.sock the agent serves only waypoint pods, each its own routes.
//   warren-xds-probe --socket PATH cert --identity spiffe://td/ns/N/sa/S [--ttl SECONDS]
//     makes a P-256 key and CSR, asks CreateCertificate, prints the chain (PEM) on stdout;
//     exit 0 on success, 1 with the gRPC status on stderr when refused.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/identity/csr.h"
#include "common/identity/private_key.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "istio/ca/ca.grpc.pb.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"
#include "warren/l7/v1/policy.pb.h"
#include "warren/l7/v1/routes.pb.h"

namespace {

namespace ds = envoy::service::discovery::v3;

int usage() {
  std::fprintf(
      stderr,
      "usage: warren-xds-probe --socket PATH xds [--type address|authorization|routes|policies] "
      "[--wait-for NAME] [--timeout-ms N] [--json]\n"
      "       warren-xds-probe --socket PATH cert --identity SPIFFE_ID [--ttl SECONDS]\n");
  return 2;
}

// One resource as a JSON line: name, version and the message with proto field names.
std::string resourceJson(const ds::Resource& r) {
  std::unique_ptr<google::protobuf::Message> msg;
  if (r.resource().Is<istio::workload::Address>())
    msg = std::make_unique<istio::workload::Address>();
  else if (r.resource().Is<istio::security::Authorization>())
    msg = std::make_unique<istio::security::Authorization>();
  else if (r.resource().Is<warren::l7::v1::ServiceRoutes>())
    msg = std::make_unique<warren::l7::v1::ServiceRoutes>();
  else if (r.resource().Is<warren::l7::v1::WaypointPolicy>())
    msg = std::make_unique<warren::l7::v1::WaypointPolicy>();
  std::string body = "null";
  if (msg && r.resource().UnpackTo(msg.get())) {
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    body.clear();
    if (!google::protobuf::util::MessageToJsonString(*msg, &body, o).ok()) body = "null";
  }
  return "{\"name\":" + nlohmann::json(r.name()).dump() +
         ",\"version\":" + nlohmann::json(r.version()).dump() + ",\"resource\":" + body + "}";
}

int runXds(const std::string& socket, const std::string& type, const std::string& wait_for,
           int timeout_ms, bool json) {
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = ds::AggregatedDiscoveryService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  auto stream = stub->DeltaAggregatedResources(&ctx);
  ds::DeltaDiscoveryRequest req;
  req.mutable_node()->set_id("warren-xds-probe");
  req.set_type_url(type);
  if (!stream->Write(req)) {
    std::fprintf(stderr, "warren-xds-probe: cannot write to %s\n", socket.c_str());
    return 1;
  }
  ds::DeltaDiscoveryResponse resp;
  while (stream->Read(&resp)) {
    bool seen = wait_for.empty();
    for (const auto& r : resp.resources()) {
      if (json)
        std::printf("%s\n", resourceJson(r).c_str());
      else
        std::printf("+ %s %s\n", r.name().c_str(), r.version().c_str());
      if (r.name() == wait_for) seen = true;
      for (const auto& a : r.aliases())
        if (a == wait_for) seen = true;
    }
    for (const auto& name : resp.removed_resources()) std::printf("- %s\n", name.c_str());
    std::fflush(stdout);
    ds::DeltaDiscoveryRequest ack;
    ack.set_type_url(type);
    ack.set_response_nonce(resp.nonce());
    stream->Write(ack);
    if (seen) {
      ctx.TryCancel();
      return 0;
    }
  }
  grpc::Status s = stream->Finish();
  std::fprintf(stderr, "warren-xds-probe: stream ended: code %d: %s\n",
               static_cast<int>(s.error_code()), s.error_message().c_str());
  return 1;
}

int runCert(const std::string& socket, const std::string& identity, long ttl) {
  auto id = warren::identity::SpiffeId::parse(identity);
  if (!id) {
    std::fprintf(stderr, "warren-xds-probe: %s\n", id.error().message().c_str());
    return 2;
  }
  auto key = warren::identity::generateEcP256Key();
  if (!key) return 1;
  auto csr = warren::identity::createCsrPem(key->get(), *id);
  if (!csr) {
    std::fprintf(stderr, "warren-xds-probe: %s\n", csr.error().message().c_str());
    return 1;
  }
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(channel);
  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr(*csr);
  req.set_validity_duration(ttl);
  (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(identity);
  istio::v1::auth::IstioCertificateResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = stub->CreateCertificate(&ctx, req, &resp);
  if (!s.ok()) {
    std::fprintf(stderr, "warren-xds-probe: CreateCertificate: code %d: %s\n",
                 static_cast<int>(s.error_code()), s.error_message().c_str());
    return 1;
  }
  for (const auto& pem : resp.cert_chain()) std::fputs(pem.c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string socket, cmd, type = "address", wait_for, identity;
  int timeout_ms = 5000;
  long ttl = 3600;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : ""; };
    if (a == "--socket")
      socket = value();
    else if (a == "--type")
      type = value();
    else if (a == "--wait-for")
      wait_for = value();
    else if (a == "--timeout-ms")
      timeout_ms = std::atoi(value().c_str());
    else if (a == "--identity")
      identity = value();
    else if (a == "--ttl")
      ttl = std::atol(value().c_str());
    else if (a == "--json")
      json = true;
    else if (cmd.empty() && (a == "xds" || a == "cert"))
      cmd = a;
    else
      return usage();
  }
  if (socket.empty() || cmd.empty() || timeout_ms <= 0) return usage();
  if (cmd == "cert") return identity.empty() ? usage() : runCert(socket, identity, ttl);
  std::string type_url;
  if (type == "address")
    type_url = "type.googleapis.com/istio.workload.Address";
  else if (type == "authorization")
    type_url = "type.googleapis.com/istio.security.Authorization";
  else if (type == "routes")
    type_url = "type.googleapis.com/warren.l7.v1.ServiceRoutes";
  else if (type == "policies")
    type_url = "type.googleapis.com/warren.l7.v1.WaypointPolicy";
  else
    return usage();
  return runXds(socket, type_url, wait_for, timeout_ms, json);
}
