// Upstreams: where a worker's requests go and how they get there. Endpoint choice is the
// mesh's (mesh/routing/endpoint_selector.h, least request over the healthy endpoints of the
// chosen Service, counted per worker as Envoy does); the way there is HBONE to the endpoint
// pod's 15008 with the waypoint's own identity through the worker's mesh::HboneClientPool (one
// pooled mTLS connection carries many CONNECT streams), or plain TCP to an endpoint outside
// the mesh. An HTTP/1.1 upstream connection (one CONNECT stream) is kept for the next request
// to the same endpoint when the exchange allows (keep-alive), up to kMaxIdlePerEndpoint.
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
  std::string workload_name;
  std::string workload_namespace;
  std::string identity;                      // SPIFFE URI of the endpoint
  net::SocketAddress address;                // endpoint IP : target port (the tunnel's :authority)
  bool hbone = true;                         // false: plain TCP (the endpoint is not in the mesh)
  std::vector<identity::SpiffeId> expected;  // identities its certificate may carry
  std::string service_hostname;              // for `forwarded: host=`
  // The Service chosen from (a DestinationRule's target) and its endpoints then; none for a
  // workload addressed directly.
  std::optional<ServiceKey> destination;
  size_t destination_hosts = 0;
  bool holds_request_slot = false;  // admit() took a place under the Service's request limit
  std::string key() const { return address.toString(); }
};

struct UpstreamRefusal {
  ResponseFlag flag = ResponseFlag::kNoHealthyUpstream;  // UH
  std::string detail;
};

class Upstreams {
 public:
  static constexpr size_t kMaxIdlePerEndpoint = 16;
  using SelfIdentity = std::function<std::optional<identity::SpiffeId>()>;
  using OnConnected = std::function<void(Result<std::unique_ptr<StreamConduit>>)>;

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
  // A workload addressed directly (`waypoint-for: workload|all`: the client dialled a pod IP),
  // at `port` on it.
  std::expected<UpstreamChoice, UpstreamRefusal> chooseWorkload(const mesh::Workload& workload,
                                                                uint16_t port) const;
  // A new tunnel (or TCP connection) to `choice`, as a raw byte stream (L4 relays).
  void open(const UpstreamChoice& choice, const net::SocketAddress& client,
            std::function<void(Result<std::unique_ptr<relay::ByteStream>>)> done);
  // A connection to `choice`: an idle kept-alive one when there is one (`reused` true), else
  // a new tunnel; `client` goes into `forwarded: for=`. `done` runs later, on the loop.
  // `allow_idle` false: always a new tunnel (a retry after a kept-alive one was closed).
  void connect(const UpstreamChoice& choice, const net::SocketAddress& client,
               std::function<void(Result<std::unique_ptr<StreamConduit>>, bool reused)> done,
               bool allow_idle = true);
  // Keeps a connection whose exchange ended cleanly for the next request to `key`.
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

  uint64_t tunnelsOpened() const { return tunnels_opened_; }
  uint64_t tunnelFailures() const { return tunnel_failures_; }
  uint64_t reuses() const { return reuses_; }
  size_t idleCount() const;
  void closeAll();
  // /clusters: in-flight requests and idle connections per endpoint.
  nlohmann::json toJson() const;

 private:
  struct Idle;
  void dropIdle(Idle* idle);

  uring::EventLoop& loop_;
  mesh::HboneClientPool& pool_;
  mesh::TlsContextCache& client_tls_;
  SelfIdentity self_;
  DestinationControl* destinations_ = nullptr;
  std::map<std::string, uint32_t> active_;
  std::map<std::string, std::deque<std::unique_ptr<Idle>>> idle_;
  uint64_t tunnels_opened_ = 0, tunnel_failures_ = 0, reuses_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace warren::waypoint
