// The proxied connections of one worker, from accept to close: what /connections, the
// istio_tcp_* metrics and the access log say about each. One per worker; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/accesslog/connection_record.h"
#include "common/metrics/istio_tcp_metrics.h"
#include "common/relay/socket_relay.h"
#include "common/relay/stream_relay.h"
#include "common/uring/event_loop.h"
#include "mesh/rbac/rbac_evaluator.h"
#include "mesh/state/workload.h"

namespace warren::ztunnel {

// One proxied connection.
struct ProxyConnection {
  uint64_t id = 0;
  std::string direction;  // "outbound" | "inbound"
  accesslog::ConnectionRecord record;
  metrics::TrafficLabels labels;
  metrics::TcpConnectionCounters counters;  // looked up once, when it opens
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::shared_ptr<relay::Relay> relay;
  std::string policy_decision = "ALLOW";
  std::string policy_name;
  // Inbound: what authorization is re-evaluated against when the state changes.
  std::optional<mesh::ConnectionContext> rbac;
  std::string local_workload_uid;
  bool closing = false;

  nlohmann::json toJson() const;
  // Source/destination labels and record fields of a workload (null: unknown).
  void describeSource(const mesh::Workload* w, const std::string& identity);
  void describeDestination(const mesh::Workload* w, const std::string& identity);
};

class ConnectionRegistry {
 public:
  // Every completed connection's record, after it was logged (tests observe the data path
  // through it; production leaves it empty).
  using Observer = std::function<void(const accesslog::ConnectionRecord&)>;

  ConnectionRegistry(uring::EventLoop& loop, metrics::IstioTcpMetrics& metrics,
                     std::function<uint64_t()> next_id, Observer observer)
      : loop_(loop),
        metrics_(metrics),
        next_id_(std::move(next_id)),
        observer_(std::move(observer)) {}

  // A connection that ended before any byte was relayed: counted, logged with `flags`.
  void finishRejected(ProxyConnection& conn, const std::string& flags, const std::string& error);
  // Registers the connection and starts copying between the two sides (source first).
  void startRelay(std::shared_ptr<ProxyConnection> conn,
                  std::unique_ptr<relay::ByteStream> source_side,
                  std::unique_ptr<relay::ByteStream> dest_side);
  // The same for two plain TCP sockets (15006 inbound, passthrough): relay::makeSocketRelay
  // with `engine` (splice where it can be had).
  void startSocketRelay(std::shared_ptr<ProxyConnection> conn, UniqueFd source_side,
                        UniqueFd dest_side, relay::SocketRelayEngine engine);

  template <class Fn>
  void forEach(Fn fn) {
    for (auto& [id, c] : open_) fn(c);
  }
  size_t size() const { return open_.size(); }
  nlohmann::json toJson() const;
  // Bytes the relays hold now (both directions of every connection).
  size_t bufferedBytes() const;
  // Every relay ends now (worker stopping).
  void abortAll(const std::string& why);

 private:
  // Registers the connection, then runs the relay `make` builds with the registry's done.
  void run(std::shared_ptr<ProxyConnection> conn,
           const std::function<std::shared_ptr<relay::Relay>(relay::Relay::DoneFn)>& make);
  void opened(ProxyConnection& conn);
  void closed(ProxyConnection& conn, uint64_t request_bytes, uint64_t response_bytes);

  uring::EventLoop& loop_;
  metrics::IstioTcpMetrics& metrics_;
  std::function<uint64_t()> next_id_;
  Observer observer_;
  std::map<uint64_t, std::shared_ptr<ProxyConnection>> open_;
};

}  // namespace warren::ztunnel
