// The echo's gRPC service, decided apart from any transport: the Gateway API conformance
// `gateway_api_conformance.echo_basic.grpcecho.GrpcEcho` (proto/gateway_api_conformance/
// echo_basic/grpcecho.proto), answering as the upstream echo-basic gRPC server does:
//   Echo, EchoTwo   OK, an EchoResponse whose assertions carry the fully qualified method, the
//                   request's metadata (":authority" included, the gRPC-reserved fields not),
//                   the authority, and the pod/namespace/service/ingress context
//   EchoThree       UNIMPLEMENTED ("method EchoThree not implemented"), as upstream leaves it
//   anything else   UNIMPLEMENTED ("unknown service S" / "unknown method M for service S")
// A unary call carries exactly one request message; anything else is INTERNAL, and a request
// that is not an EchoRequest is INTERNAL ("grpc: error unmarshalling request").
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/grpc/status.h"
#include "common/http2/header.h"
#include "lab/echo/echo_handler.h"

namespace warren::echo {

inline constexpr std::string_view kGrpcEchoService =
    "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

struct GrpcEchoReply {
  grpc::GrpcStatus status = grpc::GrpcStatus::kOk;
  std::string message;   // grpc-message, not yet percent-encoded
  std::string response;  // the serialized EchoResponse when status is OK
};

// `path` is the request's :path, `headers` its header fields as received (pseudo-headers
// first), `messages` the request messages the call carried (already unframed).
GrpcEchoReply answerGrpcEcho(std::string_view path, const http2::HeaderList& headers,
                             const std::vector<std::string>& messages, const EchoContext& context);

// A gRPC request by its content-type: application/grpc, or application/grpc+<subtype>.
bool isGrpcRequest(const http2::HeaderList& headers);

}  // namespace warren::echo
