// The parts every accept path shares: TLS contexts per identity, connecting from inside a pod,
// and a proxied connection's bookkeeping (registry, istio_tcp_* metrics, access log).
#include <fmt/format.h>

#include <cmath>
#include <spdlog/spdlog.h>

#include "common/accesslog/access_log_formatter.h"
#include "common/net/socket_address.h"
#include "common/net/socket_factory.h"
#include "ztunnel/data/data_plane.h"
#include "ztunnel/data/worker.h"

namespace warren::ztunnel {
namespace {

nlohmann::json endpoint(const std::string& workload, const std::string& ns,
                        const std::string& identity, const std::string& address) {
  return {{"workload", workload}, {"namespace", ns}, {"identity", identity}, {"address", address}};
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

const tls::TlsContext* TlsContextCache::get(mesh::CertificateManager& certs,
                                            const identity::SpiffeId& id, std::string* error) {
  auto cert = certs.get(id);
  if (!cert) {
    if (error) *error = "no certificate yet for " + id.uri();
    return nullptr;
  }
  auto& e = entries_[id.uri()];
  if (e.cert != cert || !e.ctx) {
    auto ctx = role_ == tls::TlsRole::kClient ? tls::TlsContext::client(*cert)
                                              : tls::TlsContext::server(*cert);
    if (!ctx) {
      if (error) *error = ctx.error().message();
      entries_.erase(id.uri());
      return nullptr;
    }
    e.cert = cert;
    e.ctx.emplace(std::move(*ctx));
  }
  return &*e.ctx;
}

void connectFromPod(Worker& w, const EnrolledPod& pod, const net::SocketAddress& to,
                    std::function<void(Result<UniqueFd>)> done) {
  net::SocketOptions o;
  o.netns_fd = pod.netns ? pod.netns->get() : -1;
  o.mark = net::kZtunnelMark;
  auto fd = net::SocketFactory::tcpSocket(to.family(), o);
  if (!fd) {
    w.loop.post([done = std::move(done), e = fd.error()] { done(fail(e)); });
    return;
  }
  auto shared = std::make_shared<UniqueFd>(std::move(*fd));
  auto sa = to.toSockaddr();
  w.loop.connect(shared->get(), sa.get(), sa.length, [shared, done = std::move(done), to](int res) {
    if (res < 0) {
      done(fail(Error::system(-res, "connect to " + to.toString())));
    } else {
      done(std::move(*shared));
    }
  });
}

void describeSource(ProxyConnection& c, const mesh::Workload* w, const std::string& identity) {
  c.record.src_identity = identity;
  c.labels.source_principal = identity;
  if (!w) return;
  c.record.src_workload = w->name;
  c.record.src_namespace = w->namespace_;
  c.labels.source_workload = w->workload_name.empty() ? w->name : w->workload_name;
  c.labels.source_workload_namespace = w->namespace_;
  c.labels.source_canonical_service = w->canonical_name;
  c.labels.source_canonical_revision = w->canonical_revision;
  c.labels.source_app = w->canonical_name;
  c.labels.source_version = w->canonical_revision;
  c.labels.source_cluster = w->cluster_id;
}

void describeDestination(ProxyConnection& c, const mesh::Workload* w, const std::string& identity) {
  c.record.dst_identity = identity;
  c.labels.destination_principal = identity;
  if (!w) return;
  c.record.dst_workload = w->name;
  c.record.dst_namespace = w->namespace_;
  c.labels.destination_workload = w->workload_name.empty() ? w->name : w->workload_name;
  c.labels.destination_workload_namespace = w->namespace_;
  c.labels.destination_canonical_service = w->canonical_name;
  c.labels.destination_canonical_revision = w->canonical_revision;
  c.labels.destination_app = w->canonical_name;
  c.labels.destination_version = w->canonical_revision;
  c.labels.destination_cluster = w->cluster_id;
}

namespace {

void opened(Worker& w, ProxyConnection& conn) {
  conn.record.direction = conn.direction;
  conn.counters = w.plane.tcpMetrics().forConnection(conn.labels);
  if (conn.counters.opened) conn.counters.opened->inc();
}

// Istio's direction names: "received" = request bytes (source -> destination), "sent" =
// response bytes (destination -> source).
void closed(ProxyConnection& conn, uint64_t request_bytes, uint64_t response_bytes) {
  auto& counters = conn.counters;
  if (counters.closed) counters.closed->inc();
  if (counters.received_bytes) counters.received_bytes->inc(request_bytes);
  if (counters.sent_bytes) counters.sent_bytes->inc(response_bytes);
  conn.record.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - conn.started);
  accesslog::logConnectionComplete(conn.record);
}

}  // namespace

void finishRejected(Worker& w, ProxyConnection& conn, const std::string& flags,
                    const std::string& error) {
  conn.record.flags = flags;
  conn.record.error = error;
  conn.labels.response_flags = flags;
  opened(w, conn);
  closed(conn, 0, 0);
}

void startRelay(Worker& w, std::shared_ptr<ProxyConnection> conn,
                std::unique_ptr<relay::ByteStream> source_side,
                std::unique_ptr<relay::ByteStream> dest_side) {
  conn->id = w.plane.nextConnectionId();
  opened(w, *conn);
  accesslog::logConnectionOpened(conn->record);
  uint64_t id = conn->id;
  Worker* worker = &w;
  conn->relay = relay::StreamRelay::create(
      std::move(source_side), std::move(dest_side),
      [worker, id](const relay::RelayStats& stats, const std::optional<Error>& error) {
        auto it = worker->connections.find(id);
        if (it == worker->connections.end()) return;
        auto c = std::move(it->second);
        worker->connections.erase(it);
        c->record.bytes_sent = stats.a_to_b.bytes;
        c->record.bytes_recv = stats.b_to_a.bytes;
        if (error && c->record.error.empty()) c->record.error = error->message();
        closed(*c, stats.a_to_b.bytes, stats.b_to_a.bytes);
        // The relay holds this callback: free it after the callback returns.
        worker->loop.post([c = std::move(c)] {});
      });
  w.connections[id] = conn;
  conn->relay->start();
}

}  // namespace warren::ztunnel
