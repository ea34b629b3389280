// Upstreams: where a worker's requests go and how they get there. Endpoint choice is the
// mesh's (mesh/routing/endpoint_selector.h, least request over the healthy endpoints of the
// chosen Service, counted per worker as Envoy does); the way there is HBONE to the endpoint
// pod's 15008 with the waypoint's own identity through the worker's mesh::HboneClientPool (one
// pooled mTLS connection carries many CONNECT streams), or plain TCP to an endpoint outside
// the mesh. An HTTP/1.1 upstream connection (one CONNECT stream) is kept for the next request
// to the same endpoint of the same Service when the exchange allows (keep-alive), up to
// kMaxIdlePerEndpoint (pools are per Service, UpstreamChoice::key, as Envoy's per cluster).
//
// Connection limits (DestinationRule `tcp.maxConnections`, `http1MaxPendingRequests`, counted
// over the workers by DestinationControl) act where Envoy's HTTP/1 connection pool does: a
// request that finds no idle connection and the Service at its limit waits in this worker's
// queue for the endpoint (bounded by the pending limit) until one of the worker's connections
// to it is released (handed over as kept alive) or closed (then it opens one). A worker with
// no connection to the endpoint opens one whatever the limit, as Envoy's pool does: there
// would be nothing to wait for. HTTP/2 upstreams (one multiplexed connection per endpoint per
// worker, h2_upstreams.h) and L4 relays are not counted.
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/net/socket_address.h"
#include "common/uring/event_loop.h"
#include "mesh/hbone/hbone_client_pool.h"
#include "mesh/hbone/tls_context_cache.h"
#include "mesh/routing/random_source.h"
#include "mesh/state/state_snapshot.h"
#include "waypoint/proxy/destination_control.h"
#include "waypoint/proxy/stream_conduit.h"
#include "waypoint/telemetry/response_flags.h"

namespace warren::waypoint {

// One chosen endpoint of a Service port.
struct UpstreamChoice {
  std::string endpoint_uid;
  net::SocketAddress address;                // endpoint IP : target port (the tunnel's :authority)
  bool hbone = true;                         // false: plain TCP (the endpoint is not in the mesh)
  std::vector<identity::SpiffeId> expected;  // identities its certificate may carry
  std::string service_hostname;              // for `forwarded: host=`
  // The Service chosen from (a DestinationRule's target) and its endpoints then; none for a
  // workload addressed directly.
  std::optional<ServiceKey> destination;
  size_t destination_hosts = 0;
  bool holds_request_slot = false;  // admit() took a place under the Service's request limit
  // The connection pools' key (idle HTTP/1.1 connections, HTTP/2 connections, requests
  // waiting): the endpoint per backend Service, as Envoy keeps a pool per cluster, so that a
  // Service's connections count against its own limits only. Made on first use and kept (a
  // request asks for it at least twice: to find an idle connection and to give it back), so set
  // `destination` and `address` before.
  const std::string& key() const {
    if (key_.empty())
      key_ = destination
                 ? destination->namespace_ + "/" + destination->name + " " + address.toString()
                 : address.toString();
    return key_;
  }

 private:
  mutable std::string key_;
};

class Upstreams;

// A request waiting for a connection (Upstreams::connect): destroying it leaves the queue.
class UpstreamWait {
 public:
  UpstreamWait(Upstreams* owner, std::weak_ptr<bool> alive, std::string key, uint64_t id)
      : owner_(owner), alive_(std::move(alive)), key_(std::move(key)), id_(id) {}
  ~UpstreamWait();
  UpstreamWait(const UpstreamWait&) = delete;
  UpstreamWait& operator=(const UpstreamWait&) = delete;

 private:
  Upstreams* owner_;
  std::weak_ptr<bool> alive_;
  std::string key_;
  uint64_t id_;
};

struct UpstreamRefusal {
  ResponseFlag flag = ResponseFlag::kNoHealthyUpstream;  // UH
  std::string detail;
};

class Upstreams {
 public:
  static constexpr size_t kMaxIdlePerEndpoint = 16;
  // Endpoints a worker keeps an in-flight count for (begin/end), 0 included, before it sweeps
  // the idle ones.
  static constexpr size_t kMaxIdleCounters = 1024;
  using SelfIdentity = std::function<std::optional<identity::SpiffeId>()>;
  using OnConnected = std::function<void(Result<std::unique_ptr<StreamConduit>>)>;
  using ConnectDone = std::function<void(Result<std::unique_ptr<StreamConduit>>, bool reused)>;
  // connect()'s refusal when the Service's pending queue is full (answer 503 UO).
  static constexpr const char* kPendingOverflow =
      "upstream_reset_before_response_started{overflow}";

  Upstreams(uring::EventLoop& loop, mesh::HboneClientPool& pool, mesh::TlsContextCache& client_tls,
            SelfIdentity self);
  ~Upstreams();

  // DestinationRule settings shared by the workers (outlier detection, request limits); null:
  // none (tests).
  void setDestinations(DestinationControl* destinations) { destinations_ = destinations; }

  // Least request among the healthy endpoints of `service` for `port`, seen from `source`
  // (the waypoint's own workload: its network and locality), those ejected by outlier
  // detection left out (all of them ejected: UH). Endpoints in `avoid` (uids: those a retried
  // request already tried) count as loaded, so another is preferred when there is one.
  std::expected<UpstreamChoice, UpstreamRefusal> choose(
      const mesh::StateSnapshot& snapshot, const mesh::Service& service, uint16_t port,
      const mesh::Workload& source, mesh::RandomSource& random,
      const std::vector<std::string>* avoid = nullptr);
  // A workload of `snapshot` addressed directly (`waypoint-for: workload|all`: the client
  // dialled a pod IP), at `port` on it.
  std::expected<UpstreamChoice, UpstreamRefusal> chooseWorkload(const mesh::StateSnapshot& snapshot,
                                                                const mesh::Workload& workload,
                                                                uint16_t port) const;
  // A new tunnel (or TCP connection) to `choice`, as a raw byte stream (L4 relays).
  void open(const UpstreamChoice& choice, const net::SocketAddress& client,
            std::function<void(Result<std::unique_ptr<relay::ByteStream>>)> done);
  // A connection to `choice`: an idle kept-alive one when there is one (`reused` true), else
  // a new tunnel; `client` goes into `forwarded: for=`. `done` runs later, on the loop.
  // `allow_idle` false: no idle one (a retry after a kept-alive one was closed). At the
  // Service's connection limit the request waits (see above): the result is the ticket of
  // that wait (null: not waiting), and `done` runs when a connection is had. An error (`done`
  // never runs): the pending queue is full, kPendingOverflow.
  [[nodiscard]] Result<std::unique_ptr<UpstreamWait>> connect(const UpstreamChoice& choice,
                                                              const net::SocketAddress& client,
                                                              ConnectDone done,
                                                              bool allow_idle = true);
  // Keeps a connection whose exchange ended cleanly for the next request to `key`: the first
  // request waiting for one gets it, else it idles.
  void release(const std::string& key, std::unique_ptr<StreamConduit> conduit);

  // A place for a request to `choice` under its Service's http2MaxRequests (none: always);
  // false: over the limit (answer 503 UO). Marks the choice as holding it.
  bool admit(UpstreamChoice& choice);
  // An attempt to `choice` ended with `outcome` (outlier detection).
  void report(const UpstreamChoice& choice, AttemptOutcome outcome);

  // Requests in flight per endpoint (least request).
  void begin(const std::string& uid) { ++active_[uid]; }
  void end(const std::string& uid);
  // The end of a request begun on `choice`: its count, and its place under the request limit.
  void end(UpstreamChoice& choice);
  uint32_t active(const std::string& uid) const;
  // Endpoints with a count kept (busy ones and idle ones not swept yet), and sweeps so far.
  size_t countersKept() const { return active_.size(); }
  uint64_t idleSweeps() const { return idle_sweeps_; }

  uint64_t tunnelsOpened() const { return tunnels_opened_; }
  uint64_t tunnelFailures() const { return tunnel_failures_; }
  uint64_t reuses() const { return reuses_; }
  size_t idleCount() const;
  size_t waitingCount() const;
  void closeAll();
  // /clusters: in-flight requests and idle connections per endpoint.
  nlohmann::json toJson() const;

 private:
  friend class UpstreamWait;
  struct Idle;
  struct Waiter;
  struct ConnectionLease;
  void dropIdle(Idle* idle);
  bool takeIdle(const std::string& key, ConnectDone& done);
  // A new connection, already counted against its Service's limit.
  void openConnection(const UpstreamChoice& choice, const net::SocketAddress& client,
                      ConnectDone done);
  void connectionClosed(const std::string& key, DestinationControl* counted_in,
                        const std::optional<ServiceKey>& service);
  void wake(const std::string& key);
  void stopWaiting(const std::string& key, uint64_t id);

  uring::EventLoop& loop_;
  mesh::HboneClientPool& pool_;
  mesh::TlsContextCache& client_tls_;
  SelfIdentity self_;
  DestinationControl* destinations_ = nullptr;
  std::map<std::string, uint32_t> active_;
  size_t sweep_above_ = kMaxIdleCounters;  // active_'s size past which an end sweeps
  uint64_t idle_sweeps_ = 0;
  std::map<std::string, std::deque<std::unique_ptr<Idle>>> idle_;
  std::map<std::string, uint32_t> connections_;  // this worker's HTTP/1.1 ones, open or opening
  std::map<std::string, std::deque<Waiter>> waiters_;
  uint64_t next_wait_ = 0;
  uint64_t tunnels_opened_ = 0, tunnel_failures_ = 0, reuses_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::waypoint
