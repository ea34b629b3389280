// OpenSSL reports failures on a thread-local error queue. These helpers turn the queue into a
// warren::Error and leave it empty, so a stale entry never leaks into an unrelated later call.
#pragma once

#include <string>

#include "common/error.h"

namespace warren::identity {

// Drains the calling thread's OpenSSL error queue into "reason; reason" (oldest first).
// Returns "" when the queue is empty.
std::string drainOpensslErrors();

// Error{code, "context: <queue>"} (just "context" when the queue is empty); drains the queue.
Error opensslError(ErrorCode code, std::string context);

}  // namespace warren::identity
