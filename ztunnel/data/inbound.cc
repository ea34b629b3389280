// Inbound: HBONE on 15008 (mTLS + HTTP/2 CONNECT, INTEROP §5) and plaintext captured by
// sk_lookup on 15006, both inside the destination pod's netns. Each CONNECT gets the one
// inbound decision (routing/inbound_decision.h: 400 / 401 / 503), then the connect to the app
// (503), 200, relay.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "mesh/hbone/hbone_stream.h"
#include "mesh/routing/inbound_decision.h"
#include "ztunnel/data/data_plane.h"
#include "ztunnel/data/worker.h"

namespace warren::ztunnel {
namespace {

// Connects to the app and, once connected, runs `on_connected`; on failure `on_failed`.
void connectUpstream(Worker& w, const std::shared_ptr<const EnrolledPod>& pod,
                     const net::SocketAddress& upstream, std::shared_ptr<ProxyConnection> pc,
                     std::function<void(std::unique_ptr<relay::ByteStream>)> on_connected,
                     std::function<void(const Error&)> on_failed) {
  Worker* worker = &w;
  connectFromPod(w, *pod, upstream, [worker, pc, on_connected, on_failed](Result<UniqueFd> fd) {
    if (!fd) {
      on_failed(fd.error());
      return;
    }
    on_connected(std::make_unique<relay::SocketStream>(worker->loop, std::move(*fd)));
  });
}

void onHboneRequest(Worker& w, const std::shared_ptr<const EnrolledPod>& pod,
                    const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
                    const http2::HeaderList& headers, const net::SocketAddress& local_addr) {
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "inbound";
  pc->labels.reporter = "destination";
  pc->labels.connection_security_policy = "mutual_tls";
  const auto& snapshot = w.reader.get();
  const mesh::Workload* local = snapshot->workloadByUid(pod->workload_uid);
  describeDestination(*pc, local, pod->identity.uri());
  const net::SocketAddress& peer = conn->peerAddress();
  describeSource(*pc, snapshot->workloadByAddress(mesh::NetworkAddress{"", peer.ip}),
                 conn->peerIdentity() ? conn->peerIdentity()->uri() : "");
  pc->record.src_addr = peer.toString();
  pc->record.dst_hbone_addr = local_addr.toString();
  if (const std::string* authority = http2::findHeader(headers, ":authority")) {
    pc->record.dst_addr = *authority;
  }

  auto decision = mesh::decideInbound(
      *snapshot, local, mesh::InboundConnection{local_addr, peer, conn->peerIdentity()}, headers);
  if (!decision) {
    const mesh::InboundReject& r = decision.error();
    (void)conn->session().respond(id, r.status());
    conn->flush();
    bool denied = r.kind == mesh::InboundReject::Kind::kDenied;
    if (denied) {
      pc->policy_decision = "DENY";
      pc->policy_name = r.policy;
    }
    finishRejected(w, *pc, denied ? "DENY" : "CONNECT",
                   fmt::format("{} ({} {})", r.detail, r.status(), toString(r.kind)));
    return;
  }
  pc->record.dst_service = decision->service;
  pc->policy_name = decision->policy;
  pc->rbac = decision->rbac;
  pc->local_workload_uid = local->uid;

  // Buffer what the client sends before the 200 (it should not) in the stream.
  auto stream = std::make_unique<mesh::HboneStream>(conn);
  stream->bind(id);
  conn->attach(id, stream->handler());
  auto held = std::make_shared<std::unique_ptr<mesh::HboneStream>>(std::move(stream));
  Worker* worker = &w;
  std::weak_ptr<mesh::HboneConnection> weak = conn;
  connectUpstream(
      w, pod, decision->upstream, pc,
      [worker, pc, held, weak, id](std::unique_ptr<relay::ByteStream> app) {
        auto c = weak.lock();
        if (!c || c->closed()) {
          finishRejected(*worker, *pc, "CONNECT", "HBONE connection closed before the upstream");
          return;
        }
        if (auto s = c->session().respond(id, 200); !s) {
          finishRejected(*worker, *pc, "CONNECT", s.error().message());
          return;
        }
        c->flush();
        startRelay(*worker, pc, std::move(*held), std::move(app));
      },
      [worker, pc, held, weak, id](const Error& e) {
        held->reset();
        if (auto c = weak.lock(); c && !c->closed()) {
          (void)c->session().respond(id, mesh::kUpstreamFailedStatus);
          c->flush();
        }
        finishRejected(*worker, *pc, "UF", e.message());
      });
}

}  // namespace

namespace {
// How long an HBONE connection waits for the pod's first certificate (a ztunnel that just
// started, e.g. in a rolling restart, accepts before the CA answered).
constexpr auto kCertificateWait = std::chrono::seconds(10);
constexpr auto kCertificatePoll = std::chrono::milliseconds(20);
}  // namespace

void acceptHbone(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd) {
  acceptHboneBy(w, pod, std::move(fd), std::chrono::steady_clock::now() + kCertificateWait);
}

void acceptHboneBy(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd,
                   std::chrono::steady_clock::time_point deadline) {
  std::string error;
  const tls::TlsContext* ctx = w.server_tls.get(w.plane.certificates(), pod->identity, &error);
  if (!ctx) {
    if (std::chrono::steady_clock::now() < deadline) {
      Worker* worker = &w;
      auto held = std::make_shared<UniqueFd>(std::move(fd));
      w.loop.timeout(kCertificatePoll, [worker, pod, held, deadline](int) {
        acceptHboneBy(*worker, pod, std::move(*held), deadline);
      });
      return;
    }
    spdlog::warn("HBONE for {}/{}: {}; closing the connection", pod->namespace_, pod->name, error);
    return;  // fd closes: the client fails its handshake (never plaintext)
  }
  auto engine = tls::TlsEngine::server(*ctx);
  if (!engine) {
    spdlog::warn("HBONE TLS engine: {}", engine.error().message());
    return;
  }
  auto peer = net::peerAddress(fd.get());
  auto local = net::localAddress(fd.get());
  if (!peer || !local) {
    spdlog::warn("HBONE for {}/{}: {}", pod->namespace_, pod->name,
                 (!peer ? peer.error() : local.error()).message());
    return;
  }
  net::SocketAddress local_addr = *local;
  Worker* worker = &w;
  auto conn = mesh::HboneConnection::create(
      w.loop, std::move(fd), std::move(*engine), http2::Role::kServer,
      [worker, pod, local_addr](const std::shared_ptr<mesh::HboneConnection>& c, http2::StreamId id,
                                const http2::HeaderList& headers) {
        onHboneRequest(*worker, pod, c, id, headers, local_addr);
      },
      [worker](mesh::HboneConnection* c) { worker->servers.erase(c); });
  if (!conn) {
    spdlog::warn("HBONE connection: {}", conn.error().message());
    return;
  }
  (*conn)->setPeerAddress(*peer);
  w.servers[conn->get()] = *conn;
  (*conn)->start();
  if (w.draining) (*conn)->drain();
}

void acceptInboundPlain(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd) {
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "inbound";
  pc->labels.reporter = "destination";
  pc->labels.connection_security_policy = "unknown";
  auto peer = net::peerAddress(fd.get());
  auto local = net::localAddress(fd.get());  // sk_lookup kept the original destination
  const auto& snapshot = w.reader.get();
  const mesh::Workload* local_w = snapshot->workloadByUid(pod->workload_uid);
  describeDestination(*pc, local_w, pod->identity.uri());
  if (!peer || !local) {
    finishRejected(w, *pc, "CONNECT", (!peer ? peer.error() : local.error()).message());
    return;
  }
  pc->record.src_addr = peer->toString();
  pc->record.dst_addr = local->toString();
  describeSource(*pc, snapshot->workloadByAddress(mesh::NetworkAddress{"", peer->ip}), "");
  // No identity: a plaintext peer (PeerAuthentication STRICT denies it).
  mesh::ConnectionContext ctx{std::nullopt, peer->ip, local->ip, local->port};
  mesh::InboundVerdict v = mesh::authorizeInbound(*snapshot, local_w, ctx);
  pc->policy_name = v.policy;
  if (!v.allowed) {
    pc->policy_decision = "DENY";
    finishRejected(w, *pc, "DENY", v.detail);
    return;  // fd closes
  }
  pc->rbac = ctx;
  pc->local_workload_uid = local_w->uid;
  auto held = std::make_shared<std::unique_ptr<relay::SocketStream>>(
      std::make_unique<relay::SocketStream>(w.loop, std::move(fd)));
  Worker* worker = &w;
  connectUpstream(
      w, pod, *local, pc,
      [worker, pc, held](std::unique_ptr<relay::ByteStream> app) {
        startRelay(*worker, pc, std::move(*held), std::move(app));
      },
      [worker, pc, held](const Error& e) {
        held->reset();
        finishRejected(*worker, *pc, "UF", e.message());
      });
}

void reevaluateInbound(Worker& w) {
  const auto& snapshot = w.reader.get();
  std::vector<std::shared_ptr<ProxyConnection>> denied;
  for (auto& [id, c] : w.connections) {
    if (!c->rbac || c->closing) continue;
    // A local workload that left the state denies: its policies are unknown (fail closed).
    const mesh::Workload* local = snapshot->workloadByUid(c->local_workload_uid);
    mesh::InboundVerdict v = mesh::authorizeInbound(*snapshot, local, *c->rbac);
    if (!v.allowed) {
      c->policy_decision = "DENY";
      c->policy_name = v.policy;
      c->record.error = v.detail;
      denied.push_back(c);
    }
  }
  for (auto& c : denied) {
    spdlog::info("connection c-{} from {} now denied ({}): closing", c->id, c->record.src_addr,
                 c->record.error);
    c->closing = true;
    c->record.flags = "DENY";
    c->labels.response_flags = "DENY";
    if (c->relay) c->relay->abort("denied after re-evaluation: " + c->record.error);
  }
}

}  // namespace warren::ztunnel
