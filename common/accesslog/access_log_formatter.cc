#include "common/accesslog/access_log_formatter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/accesslog/logfmt.h"

namespace warren::accesslog {
namespace {

void field(std::string& out, const char* key, const std::string& value, bool bare = false) {
  if (bare) {
    appendBare(out, key, value);
  } else {
    appendQuoted(out, key, value);
  }
}

void identityFields(std::string& out, const ConnectionRecord& r) {
  field(out, "src.addr", r.src_addr, true);
  field(out, "src.workload", r.src_workload);
  field(out, "src.namespace", r.src_namespace);
  field(out, "src.identity", r.src_identity);
  field(out, "dst.addr", r.dst_addr, true);
  field(out, "dst.hbone_addr", r.dst_hbone_addr, true);
  field(out, "dst.service", r.dst_service);
  field(out, "dst.workload", r.dst_workload);
  field(out, "dst.namespace", r.dst_namespace);
  field(out, "dst.identity", r.dst_identity);
  field(out, "direction", r.direction);
}

bool flagsSet(const std::string& flags) { return !flags.empty() && flags != "-"; }

}  // namespace

std::string formatDuration(std::chrono::microseconds d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms < 10'000) {
    // Every request's line has one: digits by hand, not a format string parsed each time.
    char buf[24];
    char* end = std::to_chars(buf, buf + sizeof buf, ms).ptr;
    return std::string(buf, end) + "ms";
  }
  return fmt::format("{}.{:03}s", ms / 1000, ms % 1000);
}

std::string formatConnectionComplete(const ConnectionRecord& r) {
  std::string out = "connection complete";
  identityFields(out, r);
  out += fmt::format(" bytes_sent={} bytes_recv={} duration=\"{}\"", r.bytes_sent, r.bytes_recv,
                     formatDuration(r.duration));
  if (flagsSet(r.flags)) field(out, "flags", r.flags);
  field(out, "error", r.error);
  return out;
}

std::string formatConnectionOpened(const ConnectionRecord& r) {
  std::string out = "connection opened";
  identityFields(out, r);
  return out;
}

std::string formatConnectionCompleteJson(const ConnectionRecord& r) {
  nlohmann::ordered_json j;
  j["message"] = "connection complete";
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("src.addr", r.src_addr);
  put("src.workload", r.src_workload);
  put("src.namespace", r.src_namespace);
  put("src.identity", r.src_identity);
  put("dst.addr", r.dst_addr);
  put("dst.hbone_addr", r.dst_hbone_addr);
  put("dst.service", r.dst_service);
  put("dst.workload", r.dst_workload);
  put("dst.namespace", r.dst_namespace);
  put("dst.identity", r.dst_identity);
  put("direction", r.direction);
  j["bytes_sent"] = r.bytes_sent;
  j["bytes_recv"] = r.bytes_recv;
  j["duration_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(r.duration).count();
  if (flagsSet(r.flags)) j["flags"] = r.flags;
  put("error", r.error);
  // Replace invalid UTF-8 rather than throw: a record may carry bytes from the network.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void logConnectionComplete(const ConnectionRecord& record) {
  auto logger = accessLogger();
  if (logger->should_log(spdlog::level::info)) logger->info("{}", formatConnectionComplete(record));
}

void logConnectionOpened(const ConnectionRecord& record) {
  auto logger = accessLogger();
  if (logger->should_log(spdlog::level::debug)) logger->debug("{}", formatConnectionOpened(record));
}

}  // namespace warren::accesslog
