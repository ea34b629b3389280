#include "lab/echo/grpc_echo.h"

#include <fmt/format.h>

#include <array>

#include "gateway_api_conformance/echo_basic/grpcecho.pb.h"

namespace warren::echo {
namespace {

namespace pb = gateway_api_conformance::echo_basic::grpcecho;

// Fields grpc-go keeps out of the metadata it hands a handler (its isReservedHeader), so the
// assertions list what the client and the proxies set, as upstream's do.
constexpr std::array<std::string_view, 8> kReserved = {
    "content-type", "te",          "grpc-message-type", "grpc-encoding",
    "grpc-message", "grpc-status", "grpc-timeout",      "grpc-status-details-bin"};

bool reserved(std::string_view name) {
  for (auto r : kReserved) {
    if (r == name) return true;
  }
  return false;
}

}  // namespace

bool isGrpcRequest(const http2::HeaderList& headers) {
  const std::string* ct = http2::findHeader(headers, "content-type");
  if (ct == nullptr) return false;
  std::string_view v = *ct;
  return v == "application/grpc" || v.starts_with("application/grpc+") ||
         v.starts_with("application/grpc;");
}

GrpcEchoReply answerGrpcEcho(std::string_view path, const http2::HeaderList& headers,
                             const std::vector<std::string>& messages, const EchoContext& context) {
  using grpc::GrpcStatus;
  // :path is /<service>/<method>.
  std::string_view rest = path.starts_with('/') ? path.substr(1) : path;
  size_t slash = rest.find('/');
  std::string_view service = slash == std::string_view::npos ? rest : rest.substr(0, slash);
  std::string_view method = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (service != kGrpcEchoService) {
    return {GrpcStatus::kUnimplemented, fmt::format("unknown service {}", service), {}};
  }
  if (method == "EchoThree") {
    return {GrpcStatus::kUnimplemented, "method EchoThree not implemented", {}};
  }
  if (method != "Echo" && method != "EchoTwo") {
    return {GrpcStatus::kUnimplemented,
            fmt::format("unknown method {} for service {}", method, service),
            {}};
  }
  if (messages.size() != 1) {
    return {GrpcStatus::kInternal,
            fmt::format("unary call {} carried {} request messages, not 1", path, messages.size()),
            {}};
  }
  pb::EchoRequest request;
  if (!request.ParseFromString(messages[0])) {
    return {GrpcStatus::kInternal, "grpc: error unmarshalling request", {}};
  }

  pb::EchoResponse response;
  pb::Assertions* a = response.mutable_assertions();
  a->set_fully_qualified_method(fmt::format("/{}/{}", service, method));
  const std::string* authority = http2::findHeader(headers, ":authority");
  if (authority == nullptr) authority = http2::findHeader(headers, "host");
  if (authority != nullptr) a->set_authority(*authority);
  for (const auto& h : headers) {
    bool pseudo = h.name.starts_with(':');
    if ((pseudo && h.name != ":authority") || reserved(h.name)) continue;
    pb::Header* out = a->add_headers();
    out->set_key(h.name);
    out->set_value(h.value);
  }
  pb::Context* c = a->mutable_context();
  c->set_namespace_(context.namespace_);
  c->set_ingress(context.ingress);
  c->set_service_name(context.service);
  c->set_pod(context.pod);
  GrpcEchoReply reply;
  response.SerializeToString(&reply.response);
  return reply;
}

}  // namespace warren::echo
