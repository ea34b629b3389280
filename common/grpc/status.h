// gRPC status codes and the header fields that carry them over HTTP/2 (the gRPC "PROTOCOL-HTTP2"
// spec): grpc-status, the percent-encoded grpc-message, and the HTTP → gRPC mapping a client
// applies to a response that has no grpc-status (grpc doc/http-grpc-status-mapping.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::grpc {

// The canonical codes (grpc doc/statuscodes.md); the values are the wire values.
enum class GrpcStatus : uint8_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "OK", "CANCELLED", ... "UNAUTHENTICATED" (the names gRPC libraries and Envoy print).
const char* statusName(GrpcStatus status);

// The wire value of a grpc-status field ("0".."16"). A number outside the known codes is
// UNKNOWN, as the spec tells clients to treat it; anything not a decimal number is an error.
Result<GrpcStatus> parseStatus(std::string_view value);
// The grpc-status field value for `status`.
std::string formatStatus(GrpcStatus status);

// A response without grpc-status (from an intermediary): 400 → INTERNAL, 401 → UNAUTHENTICATED,
// 403 → PERMISSION_DENIED, 404 → UNIMPLEMENTED, 429/502/503/504 → UNAVAILABLE, anything else
// → UNKNOWN. For clients only: the table is not symmetric and servers must not invert it.
GrpcStatus statusFromHttp(int http_status);

// grpc-message: UTF-8 text percent-encoded on the wire. Bytes 0x20..0x7E except '%' go as
// they are, every other byte as %XX (upper-case hex).
std::string encodeMessage(std::string_view text);
// The inverse, lenient as the spec requires: a '%' not followed by two hex digits is kept as
// it is rather than failing or dropping the message.
std::string decodeMessage(std::string_view wire);

}  // namespace warren::grpc
