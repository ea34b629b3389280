#include "waypoint/telemetry/request_access_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/accesslog/access_log_formatter.h"
#include "common/accesslog/logfmt.h"

namespace warren::waypoint {
namespace {

using accesslog::appendBare;
using accesslog::appendQuoted;

std::string addr(const std::optional<net::SocketAddress>& a) { return a ? a->toString() : ""; }
std::string identity(const RequestPeer& p) { return p.identity ? p.identity->uri() : ""; }
std::string traceId(const RequestRecord& r) { return r.trace ? r.trace->trace_id.hex() : ""; }

// The fields of the line, in order, each with its printing: one list for both forms.
enum class Kind { kBare, kQuoted, kNumber };
struct Field {
  const char* key;
  std::string value;  // "" = left out
  Kind kind;
  int64_t number = 0;  // kNumber: the value as a number (for JSON)
};

Field number(const char* key, std::optional<int64_t> n) {
  return n ? Field{key, std::to_string(*n), Kind::kNumber, *n} : Field{key, "", Kind::kNumber};
}

std::vector<Field> fields(const RequestRecord& r) {
  std::vector<Field> f = {
      {"src.addr", addr(r.source.address), Kind::kBare},
      {"src.workload", r.source.pod, Kind::kQuoted},
      {"src.namespace", r.source.labels.workload_namespace, Kind::kQuoted},
      {"src.identity", identity(r.source), Kind::kQuoted},
      {"dst.addr", addr(r.upstream_host), Kind::kBare},
      {"dst.service", r.service.host, Kind::kQuoted},
      {"dst.workload", r.destination.pod, Kind::kQuoted},
      {"dst.namespace", r.destination.labels.workload_namespace, Kind::kQuoted},
      {"dst.identity", identity(r.destination), Kind::kQuoted},
      {"method", r.method, Kind::kQuoted},
      {"path", r.path, Kind::kQuoted},
      {"protocol", envoyProtocol(r.protocol), Kind::kQuoted},
      {"authority", r.authority, Kind::kQuoted},
      number("response_code", r.response_code),
      number("grpc_status", r.grpc_status ? std::optional<int64_t>(*r.grpc_status) : std::nullopt),
      {"route", r.route_name, Kind::kQuoted},
      {"request_id", r.request_id, Kind::kQuoted},
      {"trace_id", traceId(r), Kind::kQuoted},
      number("request_bytes", static_cast<int64_t>(r.request_body_bytes)),
      number("response_bytes", static_cast<int64_t>(r.response_body_bytes)),
      // Printed when the request was retried (more than one attempt).
      number("attempts",
             r.upstream_attempts > 1 ? std::optional<int64_t>(r.upstream_attempts) : std::nullopt),
      {"authz", r.authz.result, Kind::kQuoted},
      {"authz_policy", r.authz.policy, Kind::kQuoted},
      {"authz_dry_run", r.authz.dry_run, Kind::kQuoted},
      {"authz_audit", r.authz.audit, Kind::kQuoted},
      {"request_principal", r.authz.request_principal, Kind::kQuoted},
  };
  return f;
}

}  // namespace

std::string formatRequestComplete(const RequestRecord& r) {
  std::string out = "request complete";
  for (const Field& f : fields(r)) {
    if (f.kind == Kind::kQuoted) {
      appendQuoted(out, f.key, f.value);
    } else {
      appendBare(out, f.key, f.value);
    }
  }
  out += fmt::format(" duration=\"{}\"", accesslog::formatDuration(r.duration));
  if (!r.response_flags.empty()) appendQuoted(out, "flags", r.response_flags.toString());
  appendQuoted(out, "details", r.response_code_details);
  return out;
}

std::string formatRequestCompleteJson(const RequestRecord& r) {
  nlohmann::ordered_json j;
  j["message"] = "request complete";
  for (const Field& f : fields(r)) {
    if (f.value.empty()) continue;
    if (f.kind == Kind::kNumber) {
      j[f.key] = f.number;
    } else {
      j[f.key] = f.value;
    }
  }
  j["duration_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(r.duration).count();
  if (!r.response_flags.empty()) j["flags"] = r.response_flags.toString();
  if (!r.response_code_details.empty()) j["details"] = r.response_code_details;
  // Replace invalid UTF-8 rather than throw: paths and authorities come from the network.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void logRequestComplete(const RequestRecord& record) {
  auto logger = accesslog::accessLogger();
  if (logger->should_log(spdlog::level::info)) logger->info("{}", formatRequestComplete(record));
}

}  // namespace warren::waypoint
