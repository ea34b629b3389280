// Errors as values: every fallible call returns Result<T>. An Error carries a code, the errno
// captured at the call site (0 when not a system error) and a human-readable context that
// names what was being done ("open /run/netns/pod-a", "manifest web.yaml: Pod default/a:
// spec.containers[0].command").
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

namespace warren {

enum class ErrorCode {
  kInvalidArgument,  // bad input: flags, manifests, protobuf, frames
  kNotFound,
  kAlreadyExists,
  kConflict,  // the object changed since it was read (an optimistic-concurrency precondition)
  kPermissionDenied,
  kUnavailable,  // peer or resource not reachable now; retrying may help
  kTimeout,
  kProtocol,  // a peer broke the wire protocol
  kSystem,    // a syscall failed; see sys_errno
  kInternal,
};

const char* errorCodeName(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string context, int sys_errno = 0)
      : code_(code), sys_errno_(sys_errno), context_(std::move(context)) {}

  static Error invalid(std::string context) {
    return Error(ErrorCode::kInvalidArgument, std::move(context));
  }
  static Error notFound(std::string context) {
    return Error(ErrorCode::kNotFound, std::move(context));
  }
  // A system error with an errno saved by the caller (see WARREN_SYS_ERROR).
  static Error system(int sys_errno, std::string context) {
    return Error(ErrorCode::kSystem, std::move(context), sys_errno);
  }

  ErrorCode code() const { return code_; }
  int sysErrno() const { return sys_errno_; }
  const std::string& context() const { return context_; }

  // "context: strerror (ECODE)" for system errors, the context alone otherwise.
  std::string message() const;

  // Prefixes more context: "loading manifests: " + inner message.
  Error wrap(const std::string& outer) const&;
  Error wrap(const std::string& outer) &&;

 private:
  ErrorCode code_;
  int sys_errno_;
  std::string context_;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Error e) { return std::unexpected<Error>(std::move(e)); }
inline Status ok() { return {}; }

}  // namespace warren

// Builds a system Error from errno, saving errno before the context expression is evaluated
// (building a string may call malloc, which may clobber errno). Use straight after the call.
#define WARREN_SYS_ERROR(...) \
  ([&, saved_errno_ = errno] { return ::warren::Error::system(saved_errno_, __VA_ARGS__); }())

// Returns early with the error of a failed Result/Status expression.
#define WARREN_TRY(expr)                                                  \
  do {                                                                    \
    if (auto&& warren_try_r_ = (expr); !warren_try_r_) {                  \
      return ::std::unexpected<::warren::Error>(std::move(warren_try_r_).error()); \
    }                                                                     \
  } while (0)
