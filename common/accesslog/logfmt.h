// The access log's line grammar, shared by every record type (connections in
// access_log_formatter.h, the waypoint's requests): `message key=value key="quoted" ...`.
// Values are double-quoted with \" \\ \n and \xNN escapes, except bare ones (addresses,
// numbers) that need no quoting; empty values are left out.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace warren::accesslog {

// `"value"` with the escapes above.
std::string quoteValue(std::string_view value);

// Appends ` key="value"`; nothing when `value` is empty.
void appendQuoted(std::string& line, std::string_view key, std::string_view value);
// Appends ` key=value` when `value` is made of address characters ([A-Za-z0-9.:[]-]), else
// quoted; nothing when empty.
void appendBare(std::string& line, std::string_view key, std::string_view value);

// The "access" logger (created on first use with the default logger's sinks and level, and
// registered so spdlog::set_level — the admin API's PUT /log — reaches it). A reference to the
// one pointer: a line per request copies no shared_ptr.
const std::shared_ptr<spdlog::logger>& accessLogger();

}  // namespace warren::accesslog
