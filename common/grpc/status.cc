#include "common/grpc/status.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "common/percent_encoding.h"

namespace warren::grpc {
namespace {

constexpr std::array<const char*, 17> kNames = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

}  // namespace

const char* statusName(GrpcStatus status) {
  auto i = static_cast<size_t>(status);
  return i < kNames.size() ? kNames[i] : "UNKNOWN";
}

Result<GrpcStatus> parseStatus(std::string_view value) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    return fail(Error::invalid(
        fmt::format("grpc-status '{}' is not a decimal number", value.substr(0, 32))));
  }
  if (n > static_cast<uint64_t>(GrpcStatus::kUnauthenticated)) return GrpcStatus::kUnknown;
  return static_cast<GrpcStatus>(n);
}

std::string formatStatus(GrpcStatus status) {
  return std::to_string(static_cast<unsigned>(status));
}

GrpcStatus statusFromHttp(int http_status) {
  switch (http_status) {
    case 400:
      return GrpcStatus::kInternal;
    case 401:
      return GrpcStatus::kUnauthenticated;
    case 403:
      return GrpcStatus::kPermissionDenied;
    case 404:
      return GrpcStatus::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus::kUnavailable;
    default:
      return GrpcStatus::kUnknown;
  }
}

namespace {

// grpc-message: printable ASCII stays, except '%' (gRPC over HTTP/2, "Responses").
bool printableNotPercent(unsigned char c) { return c >= 0x20 && c <= 0x7e && c != '%'; }

}  // namespace

std::string encodeMessage(std::string_view text) { return percentEncode(text, printableNotPercent); }

std::string decodeMessage(std::string_view wire) { return percentDecodeLenient(wire); }

}  // namespace warren::grpc
