#include "ztunnel/data/outbound_proxy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/hbone/connect_request.h"
#include "common/net/socket_info.h"
#include "ztunnel/routing/outbound_router.h"

namespace warren::ztunnel {

void OutboundProxy::accept(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd) {
  if (ctx_.state.get()->workloadByUid(pod->workload_uid)) {
    route(pod, std::move(fd));
    return;
  }
  // The pod connected before its workload arrived over xDS: wait for the snapshot store to
  // publish it (or the deadline; route() then fails the connection, naming why).
  auto held = std::make_shared<UniqueFd>(std::move(fd));
  ctx_.awaitWorkload(pod->workload_uid, [this, pod, held] { route(pod, std::move(*held)); });
}

void OutboundProxy::route(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd) {
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "outbound";
  pc->labels.reporter = "source";
  auto peer = net::peerAddress(fd.get());
  auto orig = ctx_.sockets.originalDestination(*pod, fd.get());
  const auto& snapshot = ctx_.state.get();
  const mesh::Workload* source = snapshot->workloadByUid(pod->workload_uid);
  pc->describeSource(source, pod->identity.uri());
  pc->record.src_addr = peer ? peer->toString() : "";
  if (!orig) {
    ctx_.connections.finishRejected(*pc, "CONNECT",
                                    "no original destination: " + orig.error().message());
    return;
  }
  pc->record.dst_addr = orig->toString();
  if (!source) {
    ctx_.connections.finishRejected(
        *pc, "CONNECT", "workload " + pod->workload_uid + " is not in the xDS state (yet)");
    return;
  }
  // The app connected from inside the pod; its address as the mesh sees it is the pod IP.
  net::SocketAddress source_addr = peer ? *peer : net::SocketAddress();
  if (!source->addresses.empty() && peer) {
    source_addr = net::SocketAddress{source->addresses.front(), peer->port};
  }
  pc->record.src_addr = source_addr.toString();
  mesh::RouteDecision decision = buildRequest(*snapshot, *source, *orig, random_);
  auto app = std::make_unique<relay::SocketStream>(ctx_.loop, std::move(fd));
  if (auto* err = std::get_if<mesh::RouteError>(&decision)) {
    ctx_.connections.finishRejected(*pc, "NR", err->detail);
    return;  // `app` closes: the client sees its connection end
  }
  if (auto* pass = std::get_if<mesh::PassthroughRoute>(&decision)) {
    pc->record.dst_service = pass->destination_service;
    pc->labels.connection_security_policy = "unknown";
    passthrough(pod, pc, std::move(app), pass->connect_to);
    return;
  }
  auto& hbone_route = std::get<mesh::HboneRoute>(decision);
  const mesh::Workload* dest = snapshot->workloadByUid(hbone_route.destination_workload_uid);
  pc->describeDestination(dest, hbone_route.expected_identities.empty()
                                    ? ""
                                    : hbone_route.expected_identities.front().uri());
  pc->record.dst_hbone_addr = hbone_route.connect_to.toString();
  pc->record.dst_addr = hbone::authorityToString(hbone_route.authority);
  pc->record.dst_service = hbone_route.service_hostname;
  pc->labels.destination_service.host = hbone_route.service_hostname;
  pc->labels.connection_security_policy = "mutual_tls";
  tunnel(pod, pc, std::move(app), std::move(hbone_route), source_addr, false);
}

void OutboundProxy::passthrough(const std::shared_ptr<const EnrolledPod>& pod,
                                std::shared_ptr<ProxyConnection> pc,
                                std::unique_ptr<relay::SocketStream> app,
                                const net::SocketAddress& to) {
  auto sock = ctx_.sockets.dial(*pod, to);
  if (!sock) {
    ctx_.connections.finishRejected(*pc, "UF", sock.error().message());
    return;
  }
  auto up = std::make_shared<UniqueFd>(std::move(sock->fd));
  auto held = std::make_shared<std::unique_ptr<relay::SocketStream>>(std::move(app));
  auto sa = sock->connect_to.toSockaddr();
  ctx_.loop.connect(up->get(), sa.get(), sa.length, [this, pc, held, up, to](int res) {
    if (res < 0) {
      held->reset();
      ctx_.connections.finishRejected(*pc, "UF",
                                      Error::system(-res, "connect to " + to.toString()).message());
      return;
    }
    // Two plain TCP sockets: splice where it can be had (relay::makeSocketRelay).
    auto engine = ctx_.sockets.plainRelayEngine((*held)->fd(), up->get());
    ctx_.connections.startSocketRelay(pc, (*held)->release(), std::move(*up), engine);
  });
}

void OutboundProxy::tunnel(const std::shared_ptr<const EnrolledPod>& pod,
                           std::shared_ptr<ProxyConnection> pc,
                           std::unique_ptr<relay::SocketStream> app, mesh::HboneRoute route,
                           net::SocketAddress source, bool waited_for_certificate) {
  if (auto ctx = ctx_.client_tls.get(pod->identity); !ctx) {
    if (waited_for_certificate) {
      ctx_.connections.finishRejected(*pc, "TLS_FAILURE", ctx.error().message());
      return;
    }
    // The pod's first certificate is being fetched (the ZDS add asked for it): wait for the
    // certificate manager to say it is there, or the deadline.
    auto held = std::make_shared<std::unique_ptr<relay::SocketStream>>(std::move(app));
    ctx_.awaitCertificate(pod->identity, [this, pod, pc, held, route, source] {
      tunnel(pod, pc, std::move(*held), route, source, true);
    });
    return;
  }
  hbone::ConnectRequest req;
  req.target = route.authority;
  req.source = source;
  if (!route.service_hostname.empty()) req.service_host = route.service_hostname;
  req.baggage.namespace_name = pod->namespace_;
  req.baggage.workload_type = "pod";
  req.baggage.workload_name = pod->name;
  req.traceparent = hbone::TraceParent::random();

  auto key = mesh::HboneClientPool::Key::make(pod->identity, route.connect_to,
                                              std::move(route.expected_identities));
  mesh::HboneClientPool::Dialer dialer{
      [this, pod] { return ctx_.client_tls.get(pod->identity); },
      [this, pod](const net::SocketAddress& to) { return ctx_.sockets.dial(*pod, to); }};
  auto held = std::make_shared<std::unique_ptr<relay::SocketStream>>(std::move(app));
  pool_.open(key, hbone::buildConnectHeaders(req), std::move(dialer),
             [this, pc, held](int status, std::unique_ptr<mesh::HboneStream> stream,
                              const std::string& error) {
               if (status != 200) {
                 held->reset();  // the app sees its connection close, never plaintext
                 ctx_.connections.finishRejected(*pc, status == 401 ? "DENY" : "CONNECT", error);
                 return;
               }
               ctx_.connections.startRelay(pc, std::move(*held), std::move(stream));
             });
}

}  // namespace warren::ztunnel
