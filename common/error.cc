#include "common/error.h"

#include <cstring>

namespace warren {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kProtocol: return "protocol error";
    case ErrorCode::kSystem: return "system error";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Error::message() const {
  if (sys_errno_ == 0) return context_;
  const char* name = strerrorname_np(sys_errno_);
  return context_ + ": " + std::strerror(sys_errno_) + " (" + (name ? name : "?") + ")";
}

Error Error::wrap(const std::string& outer) const& {
  return Error(code_, outer + ": " + context_, sys_errno_);
}

Error Error::wrap(const std::string& outer) && {
  context_ = outer + ": " + context_;
  return std::move(*this);
}

}  // namespace warren
