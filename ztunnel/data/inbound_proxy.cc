#include "ztunnel/data/inbound_proxy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "mesh/hbone/hbone_stream.h"
#include "mesh/routing/inbound_decision.h"

namespace warren::ztunnel {

void InboundProxy::acceptHbone(const std::shared_ptr<const EnrolledPod>& pod,
                               mesh::HboneServer::Socket socket) {
  // Accepted before the pod's first certificate (a ztunnel fresh from a rolling restart): the
  // server waits for the certificate manager, or the deadline.
  server_.accept(
      std::move(socket), pod->identity, pod->namespace_ + "/" + pod->name,
      [this, pod](const std::shared_ptr<mesh::HboneConnection>& c, http2::StreamId id,
                  const http2::HeaderList& headers,
                  const net::SocketAddress& local) { onRequest(pod, c, id, headers, local); },
      [this, pod](std::function<void()> retry) {
        ctx_.awaitCertificate(pod->identity, std::move(retry));
      });
}

void InboundProxy::connectUpstream(const EnrolledPod& pod, const net::SocketAddress& to,
                                   const net::IpAddress& client,
                                   std::function<void(Result<UniqueFd>)> done) {
  auto sock = ctx_.sockets.dialApp(pod, to, client);
  if (!sock) {
    ctx_.loop.post([done = std::move(done), e = sock.error()] { done(fail(e)); });
    return;
  }
  auto fd = std::make_shared<UniqueFd>(std::move(sock->fd));
  auto sa = sock->connect_to.toSockaddr();
  ctx_.loop.connect(fd->get(), sa.get(), sa.length, [fd, done = std::move(done), to](int res) {
    if (res < 0) {
      done(fail(Error::system(-res, "connect to " + to.toString())));
    } else {
      done(std::move(*fd));
    }
  });
}

void InboundProxy::onRequest(const std::shared_ptr<const EnrolledPod>& pod,
                             const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
                             const http2::HeaderList& headers, const net::SocketAddress& local) {
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "inbound";
  pc->labels.reporter = "destination";
  pc->labels.connection_security_policy = "mutual_tls";
  const auto& snapshot = ctx_.state.get();
  const mesh::Workload* local_w = snapshot->workloadByUid(pod->workload_uid);
  pc->describeDestination(local_w, pod->identity.uri());
  const net::SocketAddress& peer = conn->peerAddress();
  pc->describeSource(snapshot->workloadByAddress(mesh::NetworkAddress{"", peer.ip}),
                     conn->peerIdentity() ? conn->peerIdentity()->uri() : "");
  pc->record.src_addr = peer.toString();
  pc->record.dst_hbone_addr = local.toString();
  if (const std::string* authority = http2::findHeader(headers, ":authority")) {
    pc->record.dst_addr = *authority;
  }

  auto decision = mesh::decideInbound(
      *snapshot, local_w, mesh::InboundConnection{local, peer, conn->peerIdentity()}, headers);
  if (!decision) {
    const mesh::InboundReject& r = decision.error();
    (void)conn->session().respond(id, r.status());
    conn->flush();
    bool denied = r.kind == mesh::InboundReject::Kind::kDenied;
    if (denied) {
      pc->policy_decision = "DENY";
      pc->policy_name = r.policy;
    }
    ctx_.connections.finishRejected(
        *pc, denied ? "DENY" : "CONNECT",
        fmt::format("{} ({} {})", r.detail, r.status(), mesh::toString(r.kind)));
    return;
  }
  pc->record.dst_service = decision->service;
  pc->policy_name = decision->policy;
  pc->rbac = decision->rbac;
  pc->local_workload_uid = local_w->uid;

  // Buffer what the client sends before the 200 (it should not) in the stream.
  auto stream = std::make_unique<mesh::HboneStream>(conn);
  stream->bind(id);
  conn->attach(id, stream->handler());
  auto held = std::make_shared<std::unique_ptr<mesh::HboneStream>>(std::move(stream));
  std::weak_ptr<mesh::HboneConnection> weak = conn;
  connectUpstream(
      *pod, decision->upstream, peer.ip, [this, pc, held, weak, id](Result<UniqueFd> up) {
        auto c = weak.lock();
        if (!up) {
          // Answer first: the 503 ends the stream in the session; the stream then lets go of it
          // without a reset that would race the answer.
          if (c && !c->closed()) {
            (void)c->session().respond(id, mesh::kUpstreamFailedStatus);
            c->flush();
          }
          (*held)->releaseAnswered();
          held->reset();
          ctx_.connections.finishRejected(*pc, "UF", up.error().message());
          return;
        }
        if (!c || c->closed()) {
          ctx_.connections.finishRejected(*pc, "CONNECT",
                                          "HBONE connection closed before the upstream connected");
          return;
        }
        if (auto s = c->session().respond(id, 200); !s) {
          ctx_.connections.finishRejected(*pc, "CONNECT", s.error().message());
          return;
        }
        c->flush();
        ctx_.connections.startRelay(
            pc, std::move(*held), std::make_unique<relay::SocketStream>(ctx_.loop, std::move(*up)));
      });
}

void InboundProxy::acceptPlain(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd) {
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "inbound";
  pc->labels.reporter = "destination";
  pc->labels.connection_security_policy = "unknown";
  auto peer = net::peerAddress(fd.get());
  auto local = net::localAddress(fd.get());  // sk_lookup kept the original destination
  const auto& snapshot = ctx_.state.get();
  const mesh::Workload* local_w = snapshot->workloadByUid(pod->workload_uid);
  pc->describeDestination(local_w, pod->identity.uri());
  if (!peer || !local) {
    ctx_.connections.finishRejected(*pc, "CONNECT",
                                    (!peer ? peer.error() : local.error()).message());
    return;
  }
  pc->record.src_addr = peer->toString();
  pc->record.dst_addr = local->toString();
  pc->describeSource(snapshot->workloadByAddress(mesh::NetworkAddress{"", peer->ip}), "");
  // No identity: a plaintext peer (PeerAuthentication STRICT denies it).
  mesh::ConnectionContext rbac{std::nullopt, peer->ip, local->ip, local->port};
  mesh::InboundVerdict v = mesh::authorizeInbound(*snapshot, local_w, rbac);
  pc->policy_name = v.policy;
  if (!v.allowed) {
    pc->policy_decision = "DENY";
    ctx_.connections.finishRejected(*pc, "DENY", v.detail);
    return;  // fd closes
  }
  pc->rbac = rbac;
  pc->local_workload_uid = local_w->uid;
  auto held = std::make_shared<UniqueFd>(std::move(fd));
  connectUpstream(*pod, *local, peer->ip, [this, pc, held](Result<UniqueFd> up) {
    if (!up) {
      held->reset();
      ctx_.connections.finishRejected(*pc, "UF", up.error().message());
      return;
    }
    // Two plain TCP sockets: splice where it can be had (relay::makeSocketRelay).
    auto engine = ctx_.sockets.plainRelayEngine(held->get(), up->get());
    ctx_.connections.startSocketRelay(pc, std::move(*held), std::move(*up), engine);
  });
}

void InboundProxy::reevaluate() {
  const auto& snapshot = ctx_.state.get();
  std::vector<std::shared_ptr<ProxyConnection>> denied;
  ctx_.connections.forEach([&](const std::shared_ptr<ProxyConnection>& c) {
    if (!c->rbac || c->closing) return;
    // A local workload that left the state denies: its policies are unknown (fail closed).
    const mesh::Workload* local = snapshot->workloadByUid(c->local_workload_uid);
    mesh::InboundVerdict v = mesh::authorizeInbound(*snapshot, local, *c->rbac);
    if (v.allowed) return;
    c->policy_decision = "DENY";
    c->policy_name = v.policy;
    c->record.error = "denied by a policy change: " + v.detail;
    denied.push_back(c);
  });
  for (auto& c : denied) {
    spdlog::info("connection c-{} from {} now denied ({}): closing", c->id, c->record.src_addr,
                 c->record.error);
    c->closing = true;
    c->record.flags = "DENY";
    c->labels.response_flags = "DENY";
    if (c->relay) c->relay->abort(c->record.error);
  }
}

}  // namespace warren::ztunnel
