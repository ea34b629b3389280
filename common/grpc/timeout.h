// grpc-timeout (the gRPC "PROTOCOL-HTTP2" spec): TimeoutValue TimeoutUnit, where the value is
// 1 to 8 ASCII digits and the unit one of H (hours), M (minutes), S (seconds), m (milliseconds),
// u (microseconds), n (nanoseconds). A proxy reads it to bound the call and forwards what is
// left of it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.h"

namespace warren::grpc {

// The timeout the field carries; the error (kInvalidArgument) says what is wrong with it.
Result<std::chrono::nanoseconds> parseTimeout(std::string_view value);

// The field value for `timeout`: the finest unit whose value fits in 8 digits, rounded up so
// a forwarded deadline is never shorter than the one it stands for. Zero or negative gives
// "0n" (already expired); beyond 99999999 hours it saturates.
std::string formatTimeout(std::chrono::nanoseconds timeout);

}  // namespace warren::grpc
