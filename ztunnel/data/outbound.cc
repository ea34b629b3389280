// Outbound (15001, inside the source pod's netns): original destination -> routing decision ->
// HBONE CONNECT over a pooled mTLS connection (or plain TCP for destinations outside the
// mesh) -> relay. INTEROP §6.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/hbone/connect_request.h"
#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"
#include "common/relay/socket_stream.h"
#include "mesh/hbone/hbone_stream.h"
#include "ztunnel/data/data_plane.h"
#include "ztunnel/data/worker.h"
#include "ztunnel/routing/outbound_router.h"

namespace warren::ztunnel {
namespace {

// How long a connection waits for the source identity's first certificate.
constexpr auto kCertificateWait = std::chrono::seconds(10);
constexpr auto kCertificatePoll = std::chrono::milliseconds(50);

std::string poolKey(const std::string& source, const mesh::HboneRoute& r) {
  auto ids = r.expected_identities;
  std::sort(ids.begin(), ids.end());
  std::string key = source + "|" + r.connect_to.toString();
  for (const auto& id : ids) key += "|" + id.uri();
  return key;
}

// An existing pooled connection with room for one more stream, or a new one.
Result<std::shared_ptr<mesh::HboneConnection>> pooledConnection(Worker& w, const EnrolledPod& pod,
                                                                const mesh::HboneRoute& route,
                                                                const tls::TlsContext& ctx) {
  std::string key = poolKey(pod.identity.uri(), route);
  auto& conns = w.pool[key];
  std::erase_if(conns, [](const auto& c) { return c->closed(); });
  for (auto& c : conns) {
    if (c->canOpenStream()) return c;
  }
  if (route.expected_identities.empty()) {
    return fail(Error::invalid("the route names no destination identity"));
  }
  auto engine = tls::TlsEngine::client(ctx, route.expected_identities);
  if (!engine) return fail(engine.error());
  // The socket is connected asynchronously; TLS and HTTP/2 queue their first flights until
  // the connect completes (the connection starts when it does).
  net::SocketOptions o;
  const net::SocketAddress& addr = route.connect_to;
  o.netns_fd = pod.netns ? pod.netns->get() : -1;
  o.mark = net::kZtunnelMark;
  auto fd = net::SocketFactory::tcpSocket(addr.family(), o);
  if (!fd) return fail(fd.error());
  int raw = fd->get();
  Worker* worker = &w;
  auto conn = mesh::HboneConnection::create(
      w.loop, std::move(*fd), std::move(*engine), http2::Role::kClient, nullptr,
      [worker, key](mesh::HboneConnection* c) {
        auto it = worker->pool.find(key);
        if (it == worker->pool.end()) return;
        std::erase_if(it->second, [c](const auto& p) { return p.get() == c; });
        if (it->second.empty()) worker->pool.erase(it);
      });
  if (!conn) return fail(conn.error());
  (*conn)->setPeerAddress(route.connect_to);
  std::weak_ptr<mesh::HboneConnection> weak = *conn;
  std::string to = route.connect_to.toString();
  auto sa = addr.toSockaddr();
  w.loop.connect(raw, sa.get(), sa.length, [weak, to](int res) {
    auto c = weak.lock();
    if (!c) return;
    if (res < 0) {
      c->close(Error::system(-res, "connect to " + to).message());
    } else {
      c->start();
    }
  });
  // Streams may be opened before the connect completes; they queue in the session. Keep the
  // connection alive until start() takes its own reference.
  w.loop.post([keep = *conn] {});
  conns.push_back(*conn);
  return *conn;
}

// Connections already dialled that a new stream may be retried on when the first one is
// refused before it was processed.
constexpr int kStreamRetries = 2;

void tunnel(Worker& w, std::shared_ptr<const EnrolledPod> pod, std::shared_ptr<ProxyConnection> pc,
            std::unique_ptr<relay::SocketStream> app, mesh::HboneRoute route,
            net::SocketAddress source, std::chrono::steady_clock::time_point deadline,
            int retries_left = kStreamRetries) {
  std::string error;
  const tls::TlsContext* ctx = w.client_tls.get(w.plane.certificates(), pod->identity, &error);
  if (!ctx) {
    if (std::chrono::steady_clock::now() < deadline) {
      // The identity's first certificate is being fetched (ZDS add asked for it): wait.
      Worker* worker = &w;
      auto held = std::make_shared<std::unique_ptr<relay::SocketStream>>(std::move(app));
      w.loop.timeout(kCertificatePoll,
                     [worker, pod, pc, held, route, source, deadline, retries_left](int) mutable {
                       tunnel(*worker, pod, pc, std::move(*held), std::move(route), source,
                              deadline, retries_left);
                     });
      return;
    }
    finishRejected(w, *pc, "TLS_FAILURE", error);
    return;
  }
  auto conn = pooledConnection(w, *pod, route, *ctx);
  if (!conn) {
    finishRejected(w, *pc, "CONNECT", conn.error().message());
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

  auto stream = std::make_unique<mesh::HboneStream>(*conn);
  auto id = (*conn)->openStream(hbone::buildConnectHeaders(req), stream->handler());
  if (!id) {
    finishRejected(w, *pc, "CONNECT", id.error().message());
    return;
  }
  stream->bind(*id);
  Worker* worker = &w;
  auto* raw_stream = stream.get();
  // std::function needs copyable captures: the two ends travel in shared holders.
  auto held_app = std::make_shared<std::unique_ptr<relay::SocketStream>>(std::move(app));
  auto held_stream = std::make_shared<std::unique_ptr<mesh::HboneStream>>(std::move(stream));
  raw_stream->onResponse([worker, pod, pc, held_app, held_stream, route, source, deadline,
                          retries_left](int status, const std::string& why) mutable {
    if (status == 0 && retries_left > 0 && *held_app) {
      // The stream ended before any response: refused by a server that is going away
      // (GOAWAY during a rolling restart, REFUSED_STREAM) or its connection broke before the
      // CONNECT was processed. Nothing reached the destination, so a new connection may
      // carry it (RFC 9113 8.7).
      held_stream->reset();
      tunnel(*worker, pod, pc, std::move(*held_app), std::move(route), source, deadline,
             retries_left - 1);
      return;
    }
    if (status != 200) {
      std::string e = status == 0 ? why : fmt::format("HBONE CONNECT answered {}", status);
      held_app->reset();  // the app sees its connection close, never plaintext
      held_stream->reset();
      finishRejected(*worker, *pc, status == 401 ? "DENY" : "CONNECT", e);
      return;
    }
    startRelay(*worker, pc, std::move(*held_app), std::move(*held_stream));
  });
}

}  // namespace

// How long a connection from a pod waits for the pod's workload to arrive over xDS (a pod
// that connects right after it started can be quicker than the push).
constexpr auto kWorkloadWait = std::chrono::seconds(5);
constexpr auto kWorkloadPoll = std::chrono::milliseconds(20);

static void outbound(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd,
                     std::chrono::steady_clock::time_point deadline) {
  if (!w.reader.get()->workloadByUid(pod->workload_uid) &&
      std::chrono::steady_clock::now() < deadline) {
    Worker* worker = &w;
    auto held = std::make_shared<UniqueFd>(std::move(fd));
    w.loop.timeout(kWorkloadPoll, [worker, pod, held, deadline](int) {
      outbound(*worker, pod, std::move(*held), deadline);
    });
    return;
  }
  auto pc = std::make_shared<ProxyConnection>();
  pc->direction = "outbound";
  pc->labels.reporter = "source";
  auto peer = net::peerAddress(fd.get());
  auto orig = net::originalDestination(fd.get());
  const auto& snapshot = w.reader.get();
  const mesh::Workload* source = snapshot->workloadByUid(pod->workload_uid);
  describeSource(*pc, source, pod->identity.uri());
  if (!orig) {
    pc->record.src_addr = peer ? peer->toString() : "";
    finishRejected(w, *pc, "CONNECT", "no original destination: " + orig.error().message());
    return;
  }
  pc->record.dst_addr = orig->toString();
  // The app connected from inside the pod; its address as the mesh sees it is the pod IP.
  net::SocketAddress source_addr = peer ? *peer : net::SocketAddress();
  if (source && !source->addresses.empty() && peer) {
    source_addr = net::SocketAddress{source->addresses.front(), peer->port};
  }
  pc->record.src_addr = source_addr.toString();
  if (!source) {
    finishRejected(w, *pc, "CONNECT",
                   "workload " + pod->workload_uid + " is not in the xDS state (yet)");
    return;
  }
  mesh::RouteDecision decision = buildRequest(*snapshot, *source, *orig, w.random);
  auto app = std::make_unique<relay::SocketStream>(w.loop, std::move(fd));
  if (auto* err = std::get_if<mesh::RouteError>(&decision)) {
    finishRejected(w, *pc, "NR", err->detail);
    return;  // `app` closes: the client sees a reset
  }
  if (auto* pass = std::get_if<mesh::PassthroughRoute>(&decision)) {
    pc->record.dst_service = pass->destination_service;
    pc->labels.connection_security_policy = "unknown";
    Worker* worker = &w;
    auto held = std::make_shared<std::unique_ptr<relay::SocketStream>>(std::move(app));
    connectFromPod(w, *pod, pass->connect_to, [worker, pc, held](Result<UniqueFd> up) {
      if (!up) {
        held->reset();
        finishRejected(*worker, *pc, "UF", up.error().message());
        return;
      }
      startRelay(*worker, pc, std::move(*held),
                 std::make_unique<relay::SocketStream>(worker->loop, std::move(*up)));
    });
    return;
  }
  auto& route = std::get<mesh::HboneRoute>(decision);
  const mesh::Workload* dest = snapshot->workloadByUid(route.destination_workload_uid);
  describeDestination(
      *pc, dest, route.expected_identities.empty() ? "" : route.expected_identities.front().uri());
  pc->record.dst_hbone_addr = route.connect_to.toString();
  pc->record.dst_addr = hbone::authorityToString(route.authority);
  pc->record.dst_service = route.service_hostname;
  pc->labels.destination_service = route.service_hostname;
  pc->labels.connection_security_policy = "mutual_tls";
  tunnel(w, pod, pc, std::move(app), std::move(route), source_addr,
         std::chrono::steady_clock::now() + kCertificateWait);
}

void acceptOutbound(Worker& w, const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd) {
  outbound(w, pod, std::move(fd), std::chrono::steady_clock::now() + kWorkloadWait);
}

}  // namespace warren::ztunnel
