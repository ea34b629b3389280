// Pure formatters for the access log (INTEROP.md §14; ztunnel's README "connection complete"
// lines), golden-tested. The logfmt form is what the components log; the JSON form is what
// the admin API and tests use.
#pragma once

#include <string>

#include "common/accesslog/connection_record.h"

namespace warren::accesslog {

// `connection complete src.addr=10.244.1.5:43210 src.workload="sleep" ... direction="outbound"
// bytes_sent=100 bytes_recv=200 duration="12ms"`. Field order is fixed (ztunnel's); empty
// fields are left out; addresses and numbers bare, other values quoted with \" \\ \n escaped.
// `flags` and `error` come last, only when set (a flags value of "-" counts as unset).
std::string formatConnectionComplete(const ConnectionRecord& record);

// The debug-level line when a connection opens: the same identity fields, no counters.
std::string formatConnectionOpened(const ConnectionRecord& record);

// One JSON object with the same keys ("src.addr", ...), bytes as numbers, "duration_ms" as a
// number, plus "message": "connection complete".
std::string formatConnectionCompleteJson(const ConnectionRecord& record);

// "12ms" for durations under 10 s, else seconds with millisecond precision ("12.345s").
std::string formatDuration(std::chrono::microseconds d);

// Logs formatConnectionComplete at info level on the "access" logger (created on first use
// with the default logger's sinks), and formatConnectionOpened at debug level.
void logConnectionComplete(const ConnectionRecord& record);
void logConnectionOpened(const ConnectionRecord& record);

}  // namespace warren::accesslog
