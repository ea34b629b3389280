#include "waypoint/telemetry/request_access_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "common/accesslog/access_log_formatter.h"
#include "common/accesslog/logfmt.h"

namespace warren::waypoint {
namespace {

using accesslog::appendBare;
using accesslog::appendQuoted;

// The fields of the line, in order, each with its printing: one list for both forms, visited
// without building it (the line is formatted for every request: views, not copies).
enum class Kind { kBare, kQuoted, kNumber };

// Calls emit(key, value, kind, number) per field; value "" = left out. A number's text is in a
// buffer of the visit (valid during the call only).
template <typename Emit>
void eachField(const RequestRecord& r, Emit&& emit) {
  auto text = [&](const char* key, std::string_view v, Kind k) { emit(key, v, k, int64_t{0}); };
  auto number = [&](const char* key, std::optional<int64_t> n) {
    if (!n) return;
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *n);
    emit(key, std::string_view(buf, static_cast<size_t>(end - buf)), Kind::kNumber, *n);
  };
  auto address = [&](const char* key, const std::optional<net::SocketAddress>& a) {
    if (a) text(key, a->toString(), Kind::kBare);
  };
  auto identity = [&](const char* key, const RequestPeer& p) {
    if (p.identity) text(key, p.identity->uri(), Kind::kQuoted);
  };
  address("src.addr", r.source.address);
  text("src.workload", r.source.pod, Kind::kQuoted);
  text("src.namespace", r.source.labels.workload_namespace, Kind::kQuoted);
  identity("src.identity", r.source);
  address("dst.addr", r.upstream_host);
  text("dst.service", r.service.host, Kind::kQuoted);
  text("dst.workload", r.destination.pod, Kind::kQuoted);
  text("dst.namespace", r.destination.labels.workload_namespace, Kind::kQuoted);
  identity("dst.identity", r.destination);
  text("method", r.method, Kind::kQuoted);
  text("path", r.path, Kind::kQuoted);
  text("protocol", envoyProtocol(r.protocol), Kind::kQuoted);
  text("authority", r.authority, Kind::kQuoted);
  number("response_code", r.response_code);
  number("grpc_status", r.grpc_status ? std::optional<int64_t>(*r.grpc_status) : std::nullopt);
  text("route", r.route_name, Kind::kQuoted);
  text("request_id", r.request_id, Kind::kQuoted);
  if (r.trace) text("trace_id", r.trace->trace_id.hex(), Kind::kQuoted);
  number("request_bytes", static_cast<int64_t>(r.request_body_bytes));
  number("response_bytes", static_cast<int64_t>(r.response_body_bytes));
  // Printed when the request was retried (more than one attempt).
  number("attempts",
         r.upstream_attempts > 1 ? std::optional<int64_t>(r.upstream_attempts) : std::nullopt);
  text("authz", r.authz.result, Kind::kQuoted);
  text("authz_policy", r.authz.policy, Kind::kQuoted);
  text("authz_dry_run", r.authz.dry_run, Kind::kQuoted);
  text("authz_audit", r.authz.audit, Kind::kQuoted);
  text("request_principal", r.authz.request_principal, Kind::kQuoted);
}

}  // namespace

std::string formatRequestComplete(const RequestRecord& r) {
  std::string out;
  out.reserve(640);
  out = "request complete";
  eachField(r, [&](const char* key, std::string_view value, Kind kind, int64_t) {
    if (kind == Kind::kQuoted) {
      appendQuoted(out, key, value);
    } else {
      appendBare(out, key, value);
    }
  });
  out += " duration=\"";
  out += accesslog::formatDuration(r.duration);
  out += '"';
  if (!r.response_flags.empty()) appendQuoted(out, "flags", r.response_flags.toString());
  appendQuoted(out, "details", r.response_code_details);
  return out;
}

std::string formatRequestCompleteJson(const RequestRecord& r) {
  nlohmann::ordered_json j;
  j["message"] = "request complete";
  eachField(r, [&](const char* key, std::string_view value, Kind kind, int64_t number) {
    if (value.empty()) return;
    if (kind == Kind::kNumber) {
      j[key] = number;
    } else {
      j[key] = value;
    }
  });
  j["duration_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(r.duration).count();
  if (!r.response_flags.empty()) j["flags"] = r.response_flags.toString();
  if (!r.response_code_details.empty()) j["details"] = r.response_code_details;
  // Replace invalid UTF-8 rather than throw: paths and authorities come from the network.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void logRequestComplete(const RequestRecord& record) {
  const auto& logger = accesslog::accessLogger();
  // The line as the message (no format string to parse).
  if (logger->should_log(spdlog::level::info)) logger->info(formatRequestComplete(record));
}

}  // namespace warren::waypoint
