// WaypointWorker: one data-path thread of warren-waypoint, on its own event loop (io_uring,
// epoll fallback). It accepts HBONE on its SO_REUSEPORT copy of 15008 (mesh::HboneServer:
// mTLS with the waypoint's own certificate), takes the mesh's inbound decision on each CONNECT
// (mesh::decideInbound: the :authority must name a Service or workload this waypoint serves,
// L4 authorization of the calling identity), then serves the tunnel by the Service port's
// protocol: HTTP/1.1 (Http1Session: routing, keep-alive, pooled upstream HBONE), HTTP/2 and gRPC
// (Http2Session: h2c, multiplexed h2c upstream), an L4 relay to a chosen endpoint for TCP, and
// for a port of undeclared protocol whichever of these its first bytes show (ProtocolDetector);
// a workload address (a pod IP, `waypoint-for: workload|all`) is relayed at L4 to that pod.
// Every request ends in onRequestDone(record): RequestTelemetry::finish (Istio's request
// metrics, the access log line, the span), the counters and /requests.
//
// Nothing on this thread takes a lock except the snapshot and route pointer copies.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/http2/session_config.h"
#include "common/identity/spiffe_id.h"
#include "common/net/ip_address.h"
#include "common/recent_ring.h"
#include "common/relay/stream_relay.h"
#include "common/sniff/protocol_sniffer.h"
#include "common/unique_fd.h"
#include "common/uring/event_loop.h"
#include "mesh/control/certificate_source.h"
#include "mesh/hbone/hbone_client_pool.h"
#include "mesh/hbone/hbone_server.h"
#include "mesh/hbone/tls_context_cache.h"
#include "mesh/state/snapshot_store.h"
#include "waypoint/path/path_normalizer.h"
#include "waypoint/proxy/h2_upstreams.h"
#include "waypoint/proxy/http1_session.h"
#include "waypoint/proxy/http2_session.h"
#include "waypoint/proxy/protocol_detector.h"
#include "waypoint/proxy/route_config.h"
#include "waypoint/proxy/upstreams.h"
#include "waypoint/telemetry/request_telemetry.h"

namespace warren::waypoint {

// What every worker shares with the daemon (all thread-safe).
struct WorkerShared {
  const mesh::SnapshotStore* store = nullptr;
  mesh::CertificateSource* certs = nullptr;
  std::function<std::shared_ptr<const RouteConfig>()> routes;
  std::function<std::optional<identity::SpiffeId>()> self_identity;
  net::IpAddress pod_ip;  // the waypoint's own address: finds its workload in the state
  http2::SessionConfig http2;
  PathNormalizationOptions normalization;
  std::chrono::milliseconds certificate_wait{10'000};
  // Never null: begin() per request head in the sessions, finish() in onRequestDone.
  RequestTelemetry* telemetry = nullptr;
  // JWT + L7 authorization per request (and per TCP connection); null: none.
  const RequestAdmission* admission = nullptr;
  TrafficControl* traffic = nullptr;  // TrafficPolicy rate limits and faults; null: none
  // DestinationRule outlier detection and request limits; null: none.
  DestinationControl* destinations = nullptr;
  // A request head must be complete this long after its first byte (HTTP/1.1: 408; HTTP/2:
  // GOAWAY once a header block is this late); 0: no limit.
  std::chrono::seconds request_header_timeout{10};
  // Also told of every finished request (tests); may be empty. Runs on the worker thread.
  std::function<void(const RequestRecord&)> observer;
};

// The Service port's protocol from the mesh's own app_protocol (when the routes say nothing).
PortProtocol protocolOfApp(mesh::AppProtocol p);

class WaypointWorker {
 public:
  // Records kept for /requests (the admin's view of recent traffic, per worker).
  static constexpr size_t kRecentRequests = 64;

  WaypointWorker(unsigned index, uring::EventLoop& loop, WorkerShared& shared);
  ~WaypointWorker();

  // Serves HBONE connections accepted on `listener` (this worker's copy).
  void listen(UniqueFd listener);
  // GOAWAY on every HBONE connection, stop accepting.
  void drain();
  // On the worker thread after its loop stopped: close everything.
  void shutdown();
  // Counters and state for the admin (call on the worker thread).
  nlohmann::json stats() const;
  // The loop's wake-ups and quiet sends (uring::LoopStats), for /stats and /metrics.
  nlohmann::json loopStats() const;
  nlohmann::json recentRequests() const;
  size_t openStreams() const {
    return sessions_.size() + h2_sessions_.size() + detecting_.size() + relays_.size();
  }

  // THE end of every request: telemetry's finish(), exactly once per request.
  void onRequestDone(const RequestRecord& record);

 private:
  void onConnect(const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
                 const http2::HeaderList& headers, const net::SocketAddress& local);
  void serveTcp(const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
                const mesh::Service& service, uint16_t port, const ConnectionFacts& facts);
  // The L4 relay to one chosen upstream: 200 once it is reached (503 when it is not), then
  // bytes both ways.
  void relayTo(const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
               const UpstreamChoice& choice, const std::string& what,
               const net::SocketAddress& client);
  const mesh::Workload* localWorkload(const mesh::StateSnapshot& snapshot) const;
  // waypoint_worker_sessions.cc: the HTTP side of the protocol switch.
  void serveHttp(const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
                 ConnectionFacts facts, PortProtocol protocol);
  void onDetected(sniff::SniffedProtocol p, std::unique_ptr<relay::ByteStream> stream,
                  ConnectionFacts facts, bool http_port);
  template <typename Session>
  std::function<void(Session*)> forgetWhenClosed(
      std::map<Session*, std::shared_ptr<Session>>& live);
  void startHttp1(std::unique_ptr<relay::ByteStream> stream, ConnectionFacts facts);
  void startHttp2(std::unique_ptr<relay::ByteStream> stream, ConnectionFacts facts);
  // A tunnel already answered 200 whose bytes are not HTTP: relayed to an endpoint, or closed.
  void relayAnswered(std::unique_ptr<relay::ByteStream> stream, const ConnectionFacts& facts);
  void startRelay(std::unique_ptr<relay::ByteStream> client, std::unique_ptr<relay::ByteStream> up,
                  const std::string& uid, const std::string& what);
  // Once a second: 408 to HTTP/1.1 sessions whose head has been arriving for too long
  // (slowloris), GOAWAY to HTTP/2 ones whose header block has.
  void sweepHeaderTimeouts();
  template <typename Session>
  void sweepHeaderTimeouts(std::map<Session*, std::shared_ptr<Session>>& live,
                           std::chrono::steady_clock::time_point now);

  unsigned index_;
  uring::EventLoop& loop_;
  WorkerShared& shared_;
  mesh::SnapshotReader state_;
  mesh::TlsContextCache server_tls_;
  mesh::TlsContextCache client_tls_;
  mesh::HboneServer server_;
  mesh::HboneClientPool pool_;
  Upstreams upstreams_;
  RetryBudget retry_budget_;
  RequestMirrors mirrors_;
  ResilienceCounters resilience_;
  H2Upstreams h2_upstreams_;
  ProxyRandom random_;
  SessionEnv env_;
  UniqueFd listener_;
  std::map<Http1Session*, std::shared_ptr<Http1Session>> sessions_;
  std::map<Http2Session*, std::shared_ptr<Http2Session>> h2_sessions_;
  std::map<ProtocolDetector*, std::unique_ptr<ProtocolDetector>> detecting_;
  std::map<relay::StreamRelay*, std::shared_ptr<relay::StreamRelay>> relays_;
  RecentRing<RequestRecord> recent_{kRecentRequests};
  struct HeadWait {
    uint64_t heads = 0;  // headsParsed() when the wait was first seen
    std::chrono::steady_clock::time_point since;
  };
  std::map<void*, HeadWait> head_waits_;  // by session (either protocol)
  uint64_t header_timeouts_ = 0;
  bool sweeping_ = false;

  uint64_t connects_ = 0;
  std::map<int, uint64_t> connect_rejects_;  // by status
  std::map<std::string, uint64_t> connects_by_protocol_;
  uint64_t requests_ = 0;
  std::map<int, uint64_t> responses_;  // by status
  uint64_t tcp_relays_done_ = 0;
  uint64_t h2_sessions_started_ = 0;
  std::map<std::string, uint64_t> h2_goaways_sent_;  // by error code name
  std::map<std::string, uint64_t> detected_;  // protocol detection results ("HTTP/2", "TCP"...)
  bool draining_ = false;
};

}  // namespace warren::waypoint
