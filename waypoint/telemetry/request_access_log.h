// The waypoint's access log: one line per request, in the project's access log grammar
// (common/accesslog/logfmt.h) with the source/destination keys of ztunnel's connection lines
// and Envoy's request fields:
//
//   request complete src.addr=10.244.1.5:43210 src.workload="sleep-5d8f" src.namespace="demo"
//     src.identity="spiffe://cluster.local/ns/demo/sa/sleep" dst.addr=10.244.2.7:8080
//     dst.service="echo.demo.svc.cluster.local" dst.workload="echo-7d9f" dst.namespace="demo"
//     dst.identity="spiffe://cluster.local/ns/demo/sa/echo" method="GET" path="/hello?x=1"
//     protocol="HTTP/1.1" authority="echo:8080" response_code=200 route="demo/echo"
//     request_id="..." trace_id="..." request_bytes=0 response_bytes=12 duration="3ms"
//
// (one line). Order fixed, empty fields left out; `grpc_status` after response_code for gRPC;
// `flags="UF,URX"` and `details="..."` (Envoy's response code details) at the end when set.
// dst.addr is the endpoint dialled (Envoy's %UPSTREAM_HOST%). request_bytes / response_bytes are
// body bytes from / to the client (Envoy's %BYTES_RECEIVED% / %BYTES_SENT%), named after the
// istio_request_bytes / istio_response_bytes metrics so the direction is never in doubt.
#pragma once

#include <string>

#include "waypoint/telemetry/request_record.h"

namespace warren::waypoint {

std::string formatRequestComplete(const RequestRecord& record);

// The same keys as one JSON object: numbers as numbers, "duration_ms", "message": "request
// complete".
std::string formatRequestCompleteJson(const RequestRecord& record);

// Logs formatRequestComplete at info level on the "access" logger.
void logRequestComplete(const RequestRecord& record);

}  // namespace warren::waypoint
