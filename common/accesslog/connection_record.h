// What a proxy knows about one connection when it ends: the input of the access log. Empty
// strings mean "not known" and their fields are left out of the log line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace warren::accesslog {

struct ConnectionRecord {
  std::string src_addr;      // "10.244.1.5:43210"
  std::string src_workload;  // pod name
  std::string src_namespace;
  std::string src_identity;    // "spiffe://cluster.local/ns/default/sa/sleep"
  std::string dst_addr;        // for HBONE: "podIP:15008"
  std::string dst_hbone_addr;  // the inner target: "podIP:8080" (or VIP:port to a waypoint)
  std::string dst_service;     // "echo.default.svc.cluster.local"
  std::string dst_workload;
  std::string dst_namespace;
  std::string dst_identity;
  std::string direction;    // "inbound" or "outbound"
  uint64_t bytes_sent = 0;  // source -> destination bytes forwarded
  uint64_t bytes_recv = 0;  // destination -> source bytes forwarded
  std::chrono::microseconds duration{0};
  std::string flags;  // Istio response flag: "" / "-" none, DENY, CONNECT, TLS_FAILURE...
  std::string error;  // human-readable reason the connection failed, if it did
};

}  // namespace warren::accesslog
