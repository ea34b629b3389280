// Inbound: HBONE on 15008 (mTLS + HTTP/2 CONNECT, INTEROP §5) and plaintext captured by
// sk_lookup on 15006, both inside the destination pod's netns. Each request: authority check
// (400/503), L4 authorization with DENY-then-ALLOW (401), connect to the app (503), 200, relay.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "ztunnel/data/data_plane.h"
#include "ztunnel/data/hbone_stream.h"
#include "ztunnel/data/worker.h"
#include "ztunnel/routing/inbound_authority.h"

namespace warren::ztunnel {
namespace {

struct Verdict {
  bool allowed = true;
  std::string policy;
};

Verdict authorize(const StateSnapshot& snapshot, const Workload* local,
                  const ConnectionContext& ctx) {
  if (!local) return {};
  RbacDecision d = evaluateRbac(snapshot.policiesFor(*local), ctx);
  return {d.allowed, d.policy ? d.policy->key() : ""};
}

std::optional<IpAddress> ipOf(const std::string& socket_address) {
  auto a = SocketAddress::parse(socket_address);
  if (!a) return std::nullopt;
  return a->ip;
}

// Connects to the app and, once connected, runs `on_connected`; on failure `on_failed`.
void connectUpstream(Worker& w, const std::shared_ptr<const PodContext>& pod,
                     const std::string& upstream, std::shared_ptr<ProxyConnection> pc,
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

void onHboneRequest(Worker& w, const std::shared_ptr<const PodContext>& pod,
                    const std::shared_ptr<HboneConnection>& conn, StreamId id,
                    const http2::HeaderList& headers, const std::string& local_addr) {
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "inbound";
  pc->labels.reporter = "destination";
  pc->labels.connection_security_policy = "mutual_tls";
  const auto& snapshot = w.reader.get();
  const Workload* local = snapshot->workloadByUid(pod->workload_uid);
  describeDestination(*pc, local, pod->identity.uri());
  std::string peer_id = conn->peerIdentity() ? conn->peerIdentity()->uri() : "";
  auto peer_ip = ipOf(conn->peerAddress());
  const Workload* source = nullptr;
  if (peer_ip) source = snapshot->workloadByAddress(NetworkAddress{"", *peer_ip});
  describeSource(*pc, source, peer_id);
  pc->record.src_addr = conn->peerAddress();
  pc->record.dst_hbone_addr = local_addr;

  auto reject = [&](int status, const std::string& flags, const std::string& why) {
    (void)conn->session().respond(id, status);
    conn->flush();
    finishRejected(w, *pc, flags, why);
  };
  const std::string* method = http2::findHeader(headers, ":method");
  if (!method || *method != "CONNECT") {
    reject(400, "CONNECT", "HBONE request is not CONNECT");
    return;
  }
  const std::string* authority = http2::findHeader(headers, ":authority");
  auto local_ip = ipOf(local_addr);
  if (!authority || !local_ip || !local) {
    reject(400, "CONNECT", !authority ? "CONNECT without :authority"
                                      : "local workload " + pod->workload_uid + " unknown");
    return;
  }
  pc->record.dst_addr = *authority;
  auto target = checkInboundAuthority(*snapshot, *local, *local_ip, *authority);
  if (!target) {
    reject(target.error().http_status, "CONNECT", target.error().detail);
    return;
  }
  pc->record.dst_service = target->service;
  ConnectionContext ctx;
  if (conn->peerIdentity()) {
    auto sid = SpiffeIdentity::parse(peer_id);
    if (sid) ctx.source_identity = *sid;
  }
  ctx.source_ip = peer_ip.value_or(IpAddress());
  ctx.destination_ip = target->upstream.ip;
  ctx.destination_port = target->upstream.port;
  Verdict v = authorize(*snapshot, local, ctx);
  pc->policy_name = v.policy;
  if (!v.allowed) {
    pc->policy_decision = "DENY";
    reject(401, "DENY", "denied by " + (v.policy.empty() ? "policy" : v.policy));
    return;
  }
  pc->rbac = ctx;
  pc->local_workload_uid = local->uid;

  // Buffer what the client sends before the 200 (it should not) in the stream.
  auto stream = std::make_unique<HboneStream>(conn);
  stream->bind(id);
  conn->attach(id, stream->handler());
  auto held = std::make_shared<std::unique_ptr<HboneStream>>(std::move(stream));
  Worker* worker = &w;
  std::weak_ptr<HboneConnection> weak = conn;
  connectUpstream(
      w, pod, target->upstream.toString(), pc,
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
          (void)c->session().respond(id, 503);
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

void acceptHbone(Worker& w, const std::shared_ptr<const PodContext>& pod, UniqueFd fd) {
  acceptHboneBy(w, pod, std::move(fd), std::chrono::steady_clock::now() + kCertificateWait);
}

void acceptHboneBy(Worker& w, const std::shared_ptr<const PodContext>& pod, UniqueFd fd,
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
  std::string local_addr = local ? local->toString() : "";
  Worker* worker = &w;
  auto conn = HboneConnection::create(
      w.loop, std::move(fd), std::move(*engine), http2::Role::kServer,
      [worker, pod, local_addr](const std::shared_ptr<HboneConnection>& c, StreamId id,
                                const http2::HeaderList& headers) {
        onHboneRequest(*worker, pod, c, id, headers, local_addr);
      },
      [worker](HboneConnection* c) { worker->servers.erase(c); });
  if (!conn) {
    spdlog::warn("HBONE connection: {}", conn.error().message());
    return;
  }
  (*conn)->setPeerAddress(peer ? peer->toString() : "");
  w.servers[conn->get()] = *conn;
  (*conn)->start();
  if (w.draining) (*conn)->drain();
}

void acceptInboundPlain(Worker& w, const std::shared_ptr<const PodContext>& pod, UniqueFd fd) {
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "inbound";
  pc->labels.reporter = "destination";
  pc->labels.connection_security_policy = "unknown";
  auto peer = net::peerAddress(fd.get());
  auto local = net::localAddress(fd.get());  // sk_lookup kept the original destination
  const auto& snapshot = w.reader.get();
  const Workload* local_w = snapshot->workloadByUid(pod->workload_uid);
  describeDestination(*pc, local_w, pod->identity.uri());
  pc->record.src_addr = peer ? peer->toString() : "";
  pc->record.dst_addr = local ? local->toString() : "";
  auto src_ip = peer ? ipOf(peer->toString()) : std::nullopt;
  if (src_ip) describeSource(*pc, snapshot->workloadByAddress(NetworkAddress{"", *src_ip}), "");
  Result<SocketAddress> dst = fail(Error::invalid("no local address"));
  if (local) dst = SocketAddress::parse(local->toString());
  if (!dst || !local_w) {
    finishRejected(w, *pc, "CONNECT",
                   !dst ? dst.error().message()
                        : "local workload " + pod->workload_uid + " unknown");
    return;
  }
  ConnectionContext ctx;
  ctx.source_ip = src_ip.value_or(IpAddress());
  ctx.destination_ip = dst->ip;
  ctx.destination_port = dst->port;
  Verdict v = authorize(*snapshot, local_w, ctx);
  pc->policy_name = v.policy;
  if (!v.allowed) {
    pc->policy_decision = "DENY";
    finishRejected(w, *pc, "DENY", "denied by " + (v.policy.empty() ? "policy" : v.policy));
    return;  // fd closes
  }
  pc->rbac = ctx;
  pc->local_workload_uid = local_w->uid;
  auto held = std::make_shared<std::unique_ptr<relay::SocketStream>>(
      std::make_unique<relay::SocketStream>(w.loop, std::move(fd)));
  Worker* worker = &w;
  connectUpstream(
      w, pod, dst->toString(), pc,
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
    const Workload* local = snapshot->workloadByUid(c->local_workload_uid);
    Verdict v = authorize(*snapshot, local, *c->rbac);
    if (!v.allowed) {
      c->policy_decision = "DENY";
      c->policy_name = v.policy;
      denied.push_back(c);
    }
  }
  for (auto& c : denied) {
    spdlog::info("connection c-{} from {} now denied by {}: closing", c->id, c->record.src_addr,
                 c->policy_name.empty() ? "policy" : c->policy_name);
    c->closing = true;
    c->record.flags = "DENY";
    c->labels.response_flags = "DENY";
    c->record.error = "denied by a policy change";
    if (c->relay) c->relay->abort("denied by a policy change");
  }
}

}  // namespace warren::ztunnel
