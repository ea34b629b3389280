#include "ztunnel/data/connection_registry.h"

#include <fmt/format.h>

#include <cmath>

#include "common/accesslog/access_log_formatter.h"
#include "mesh/state/workload_labels.h"

namespace warren::ztunnel {
namespace {

nlohmann::json endpoint(const std::string& workload, const std::string& ns,
                        const std::string& identity, const std::string& address) {
  return {{"workload", workload}, {"namespace", ns}, {"identity", identity}, {"address", address}};
}

void describePeer(const mesh::Workload* w, const std::string& identity,
                  std::string& record_identity, std::string& record_workload,
                  std::string& record_namespace) {
  record_identity = identity;
  if (!w) return;
  record_workload = w->name;
  record_namespace = w->namespace_;
}

}  // namespace

nlohmann::json ProxyConnection::toJson() const {
  auto age = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  relay::RelayStats stats;
  if (relay) stats = relay->stats();
  auto dst = endpoint(record.dst_workload, record.dst_namespace, record.dst_identity,
                      record.dst_hbone_addr.empty() ? record.dst_addr : record.dst_hbone_addr);
  dst["hbone_address"] = record.dst_hbone_addr.empty() ? "" : record.dst_addr;
  dst["service"] = record.dst_service;
  return {{"id", fmt::format("c-{}", id)},
          {"direction", direction},
          {"state", closing ? "closing" : "established"},
          {"source", endpoint(record.src_workload, record.src_namespace, record.src_identity,
                              record.src_addr)},
          {"destination", dst},
          {"bytes_sent", stats.a_to_b.bytes},
          {"bytes_recv", stats.b_to_a.bytes},
          {"age_seconds", std::round(age * 10) / 10},
          {"policy", {{"decision", policy_decision}, {"policy", policy_name}}}};
}

// Both sides are described the same way: Istio's labels from mesh::workloadLabels, the access
// log's pod name and namespace from the workload itself.
void ProxyConnection::describeSource(const mesh::Workload* w, const std::string& identity) {
  labels.source = mesh::workloadLabels(w, identity);
  describePeer(w, identity, record.src_identity, record.src_workload, record.src_namespace);
}

void ProxyConnection::describeDestination(const mesh::Workload* w, const std::string& identity) {
  labels.destination = mesh::workloadLabels(w, identity);
  describePeer(w, identity, record.dst_identity, record.dst_workload, record.dst_namespace);
}

void ConnectionRegistry::opened(ProxyConnection& conn) {
  conn.record.direction = conn.direction;
  conn.counters = metrics_.forConnection(conn.labels);
  if (conn.counters.opened) conn.counters.opened->inc();
}

// Istio's direction names: "received" = request bytes (source -> destination), "sent" =
// response bytes (destination -> source).
void ConnectionRegistry::closed(ProxyConnection& conn, uint64_t request_bytes,
                                uint64_t response_bytes) {
  auto& counters = conn.counters;
  if (counters.closed) counters.closed->inc();
  if (counters.received_bytes) counters.received_bytes->inc(request_bytes);
  if (counters.sent_bytes) counters.sent_bytes->inc(response_bytes);
  conn.record.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - conn.started);
  accesslog::logConnectionComplete(conn.record);
  if (observer_) observer_(conn.record);
}

void ConnectionRegistry::finishRejected(ProxyConnection& conn, const std::string& flags,
                                        const std::string& error) {
  conn.record.flags = flags;
  conn.record.error = error;
  conn.labels.response_flags = flags;
  opened(conn);
  closed(conn, 0, 0);
}

void ConnectionRegistry::startRelay(std::shared_ptr<ProxyConnection> conn,
                                    std::unique_ptr<relay::ByteStream> source_side,
                                    std::unique_ptr<relay::ByteStream> dest_side) {
  run(std::move(conn), [&](relay::Relay::DoneFn done) {
    return relay::StreamRelay::create(std::move(source_side), std::move(dest_side),
                                      std::move(done));
  });
}

void ConnectionRegistry::startSocketRelay(std::shared_ptr<ProxyConnection> conn,
                                          UniqueFd source_side, UniqueFd dest_side,
                                          relay::SocketRelayEngine engine) {
  run(std::move(conn), [&](relay::Relay::DoneFn done) {
    return relay::makeSocketRelay(loop_, std::move(source_side), std::move(dest_side), engine,
                                  std::move(done));
  });
}

void ConnectionRegistry::run(
    std::shared_ptr<ProxyConnection> conn,
    const std::function<std::shared_ptr<relay::Relay>(relay::Relay::DoneFn)>& make) {
  conn->id = next_id_();
  opened(*conn);
  accesslog::logConnectionOpened(conn->record);
  uint64_t id = conn->id;
  conn->relay = make([this, id](const relay::RelayStats& stats, const std::optional<Error>& error) {
    auto it = open_.find(id);
    if (it == open_.end()) return;
    auto c = std::move(it->second);
    open_.erase(it);
    c->record.bytes_sent = stats.a_to_b.bytes;
    c->record.bytes_recv = stats.b_to_a.bytes;
    if (error && c->record.error.empty()) c->record.error = error->message();
    closed(*c, stats.a_to_b.bytes, stats.b_to_a.bytes);
    // The relay holds this callback: free it after the callback returns.
    loop_.post([c = std::move(c)] {});
  });
  open_[id] = conn;
  conn->relay->start();
}

nlohmann::json ConnectionRegistry::toJson() const {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [id, c] : open_) items.push_back(c->toJson());
  return items;
}

size_t ConnectionRegistry::bufferedBytes() const {
  size_t n = 0;
  for (const auto& [id, c] : open_) {
    if (!c->relay) continue;
    auto s = c->relay->stats();
    n += s.a_to_b.buffered + s.b_to_a.buffered;
  }
  return n;
}

void ConnectionRegistry::abortAll(const std::string& why) {
  auto all = open_;  // abort() runs the done callback, which erases from open_
  for (auto& [id, c] : all) {
    if (c->relay) c->relay->abort(why);
  }
  open_.clear();
}

}  // namespace warren::ztunnel
