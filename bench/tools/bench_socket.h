#pragma once
// Blocking-with-deadline socket helpers shared by the load tools. Every wait is bounded by a
// deadline, so a dead path turns into an error instead of a hang.
#include <chrono>
#include <cstddef>

#include "bench/tools/tool_options.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace warren::bench {

using Clock = std::chrono::steady_clock;

// A TCP connection to `to` with TCP_NODELAY set (requests are small and latency is measured).
Result<UniqueFd> connectTcp(const Target& to, Clock::time_point deadline);
Status writeAll(int fd, const char* data, size_t len, Clock::time_point deadline);
// Reads exactly len bytes; EOF before that is an error.
Status readExact(int fd, char* data, size_t len, Clock::time_point deadline);
// Reads what is available (at least one byte, waiting until the deadline); 0 means EOF.
Result<size_t> readSome(int fd, char* data, size_t len, Clock::time_point deadline);
// Closes with RST (SO_LINGER 0) so a connection-rate run does not fill the port range with
// TIME_WAIT entries on the client side.
void closeWithReset(UniqueFd fd);
// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit.
Result<size_t> raiseFdLimit();
Clock::time_point deadlineAfter(double seconds);
// Waits (poll(2)) until `fd` has `events` or the deadline passes (a timeout error naming `what`).
Status waitFor(int fd, short events, Clock::time_point deadline, const char* what);

}  // namespace warren::bench
