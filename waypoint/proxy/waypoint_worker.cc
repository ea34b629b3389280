#include "waypoint/proxy/waypoint_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "common/net/socket_factory.h"
#include "mesh/hbone/hbone_stream.h"
#include "mesh/routing/inbound_decision.h"
#include "mesh/state/ready_waiters.h"
#include "mesh/state/workload_labels.h"
#include "waypoint/telemetry/request_access_log.h"

namespace warren::waypoint {

WaypointWorker::WaypointWorker(unsigned index, uring::EventLoop& loop, WorkerShared& shared)
    : index_(index),
      loop_(loop),
      shared_(shared),
      state_(*shared.store),
      server_tls_(tls::TlsRole::kServer, *shared.certs),
      client_tls_(tls::TlsRole::kClient, *shared.certs),
      server_(loop, server_tls_, shared.http2),
      pool_(loop, shared.http2),
      upstreams_(loop, pool_, client_tls_, shared.self_identity),
      mirrors_(loop, upstreams_),
      h2_upstreams_(loop, upstreams_, shared.http2) {
  env_.loop = &loop_;
  env_.retry_budget = &retry_budget_;
  env_.mirrors = &mirrors_;
  env_.resilience = &resilience_;
  env_.routes = shared.routes;
  env_.state = &state_;
  env_.upstreams = &upstreams_;
  env_.random = &random_;
  env_.normalization = shared.normalization;
  env_.telemetry = shared.telemetry;
  env_.admission = shared.admission;
  env_.traffic = shared.traffic;
  upstreams_.setDestinations(shared.destinations);
  env_.on_request_done = [this](const RequestRecord& r) { onRequestDone(r); };
  env_.local_workload = [this](const mesh::StateSnapshot& s) { return localWorkload(s); };
}

WaypointWorker::~WaypointWorker() = default;

const mesh::Workload* WaypointWorker::localWorkload(const mesh::StateSnapshot& snapshot) const {
  return snapshot.workloadByAddress(mesh::NetworkAddress{"", shared_.pod_ip});
}

template <typename Session>
void WaypointWorker::sweepHeaderTimeouts(std::map<Session*, std::shared_ptr<Session>>& live,
                                         std::chrono::steady_clock::time_point now) {
  for (auto& [p, s] : std::map(live)) {
    if (!s->awaitingHead()) {
      head_waits_.erase(p);
      continue;
    }
    auto [it, fresh] = head_waits_.try_emplace(p, HeadWait{s->headsParsed(), now});
    if (fresh || it->second.heads != s->headsParsed()) {
      it->second = HeadWait{s->headsParsed(), now};  // a new head started since
    } else if (now - it->second.since >= shared_.request_header_timeout) {
      head_waits_.erase(it);
      ++header_timeouts_;
      s->headerTimeout();
    }
  }
}

void WaypointWorker::sweepHeaderTimeouts() {
  if (draining_) return;
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(head_waits_, [&](const auto& w) {
    return !sessions_.contains(static_cast<Http1Session*>(w.first)) &&
           !h2_sessions_.contains(static_cast<Http2Session*>(w.first));
  });
  sweepHeaderTimeouts(sessions_, now);
  sweepHeaderTimeouts(h2_sessions_, now);
  loop_.timeout(std::chrono::seconds(1), [this](int res) {
    if (res == 0) sweepHeaderTimeouts();
  });
}

void WaypointWorker::listen(UniqueFd listener) {
  if (shared_.request_header_timeout.count() > 0 && !sweeping_) {
    sweeping_ = true;
    loop_.timeout(std::chrono::seconds(1), [this](int res) {
      if (res == 0) sweepHeaderTimeouts();
    });
  }
  listener_ = std::move(listener);
  loop_.acceptMultishot(listener_.get(), [this](int res) {
    if (res == -ECANCELED) return;
    if (res < 0) {
      spdlog::warn("waypoint worker {}: accept on 15008: {}", index_, std::strerror(-res));
      return;
    }
    UniqueFd fd(res);
    (void)net::SocketFactory::configureAccepted(fd.get(), net::SocketOptions{});
    auto id = shared_.self_identity();
    if (!id) {
      spdlog::warn("waypoint: HBONE connection before the waypoint knows its identity; closed");
      return;  // the client's handshake fails: never plaintext
    }
    auto socket = mesh::HboneServer::addressesOf(std::move(fd));
    if (!socket) {
      spdlog::warn("waypoint: HBONE connection: {}", socket.error().message());
      return;
    }
    server_.accept(
        std::move(*socket), *id, "waypoint",
        [this](const std::shared_ptr<mesh::HboneConnection>& c, http2::StreamId sid,
               const http2::HeaderList& headers,
               const net::SocketAddress& local) { onConnect(c, sid, headers, local); },
        [this, id = *id](std::function<void()> retry) {
          mesh::awaitReady(
              loop_, shared_.certificate_wait,
              [this, id](std::function<void()> fire) {
                return shared_.certs->whenReady(id, loop_, std::move(fire));
              },
              [this](mesh::WaitId w) { shared_.certs->cancelWait(w); }, retry, retry);
        });
  });
}

void WaypointWorker::onConnect(const std::shared_ptr<mesh::HboneConnection>& conn,
                               http2::StreamId id, const http2::HeaderList& headers,
                               const net::SocketAddress& local) {
  ++connects_;
  const auto& snapshot = state_.get();
  const mesh::Workload* self = localWorkload(*snapshot);
  auto reject = [&](int status, const std::string& why) {
    ++connect_rejects_[status];
    spdlog::info("waypoint: CONNECT from {} refused {}: {}", conn->peerAddress().toString(), status,
                 why);
    (void)conn->session().respond(id, status);
    conn->flush();
  };
  auto decision = mesh::decideInbound(
      *snapshot, self, mesh::InboundConnection{local, conn->peerAddress(), conn->peerIdentity()},
      headers);
  if (!decision) {
    reject(decision.error().status(),
           fmt::format("{} ({})", decision.error().detail, mesh::toString(decision.error().kind)));
    return;
  }
  const auto* target = std::get_if<net::SocketAddress>(&decision->request.authority);
  const mesh::Service* service = nullptr;
  uint16_t port = hbone::authorityPort(decision->request.authority);
  if (target) {
    service = snapshot->serviceByVip(mesh::NetworkAddress{self->network, target->ip});
  } else if (!decision->service.empty()) {
    service = serviceByKey(*snapshot, decision->service);
  }
  if (!service) {
    // A workload address (`waypoint-for: workload|all`): decideInbound found this pod to be the
    // waypoint of the workload the IP names. No Service, so no port protocol and no routes:
    // relayed at L4 to that workload (L4 policy above applied), as a TCP Service port is.
    const mesh::Workload* w =
        target ? snapshot->workloadByAddress(mesh::NetworkAddress{self->network, target->ip})
               : nullptr;
    if (!w) {
      reject(503, "the authority names no Service or workload in the state");
      return;
    }
    auto choice = upstreams_.chooseWorkload(*snapshot, *w, port);
    if (!choice) {
      reject(503, choice.error().detail);
      return;
    }
    net::SocketAddress client = decision->request.forwarded_for.value_or(conn->peerAddress());
    // The L7 policies on this waypoint are asked about the connection, as for a TCP Service
    // port (no Service: only the policies bound to the waypoint itself apply).
    ConnectionInfo connection;
    connection.source_identity = conn->peerIdentity();
    connection.source_ip = client.ip;
    connection.remote_ip = client.ip;
    connection.destination_ip = target->ip;
    connection.destination_port = port;
    if (std::string why;
        shared_.admission && !shared_.admission->admitConnection(connection, nullptr, &why)) {
      reject(401, "L7 authorization of a workload-addressed connection: " + why);
      return;
    }
    ++connects_by_protocol_["WORKLOAD_TCP"];
    relayTo(conn, id, *choice, fmt::format("workload {} -> {}", w->uid, choice->address.toString()),
            client);
    return;
  }
  if (!service->findPort(port)) {
    reject(503, fmt::format("service {} has no port {}", service->key(), port));
    return;
  }

  ConnectionFacts facts;
  facts.client = decision->request.forwarded_for.value_or(conn->peerAddress());
  // The client as the state knows it, with the identity its ztunnel proved over mTLS.
  facts.source = RequestPeer::of(
      snapshot->workloadByAddress(mesh::NetworkAddress{self->network, facts.client.ip}),
      conn->peerIdentity(), facts.client);
  facts.service_key = service->key();
  facts.service = mesh::serviceLabels(*service);
  facts.vip = target ? target->ip : net::IpAddress{};
  facts.port = port;
  facts.connection.source_identity = conn->peerIdentity();
  facts.connection.source_ip = facts.client.ip;
  facts.connection.remote_ip = facts.client.ip;
  facts.connection.destination_ip = facts.vip;
  facts.connection.destination_port = port;
  facts.service_ref = ServiceKey{service->namespace_, service->name};

  // The protocol of the Service port: the agent's classification (appProtocol, else the port
  // name), else the mesh's own app_protocol.
  PortProtocol protocol = PortProtocol::kUnspecified;
  auto routes = shared_.routes();
  if (const ServiceConfig* sc = routes->service(service->key())) {
    if (auto it = sc->ports.find(port); it != sc->ports.end()) protocol = it->second.protocol;
  }
  if (protocol == PortProtocol::kUnspecified) {
    if (const mesh::ServicePort* sp = service->findPort(port))
      protocol = protocolOfApp(sp->app_protocol);
  }
  ++connects_by_protocol_[toString(protocol)];

  // A TCP port, or (ProtocolDetector, waypoint_worker_sessions.cc) a port whose bytes turn out
  // not to be HTTP, is relayed without requests: the L7 policies are asked about the connection
  // (HTTP-only fields fail closed) before any byte goes on.
  if (protocol == PortProtocol::kTcp) {
    std::string why;
    if (shared_.admission &&
        !shared_.admission->admitConnection(facts.connection, &*facts.service_ref, &why)) {
      reject(401, "L7 authorization of a TCP port: " + why);  // ztunnel's status for RBAC
      return;
    }
    serveTcp(conn, id, *service, port, facts);
    return;
  }
  // HTTP of some version, or undeclared: the tunnel is answered now and the client's bytes say
  // the rest (waypoint_worker_sessions.cc).
  serveHttp(conn, id, std::move(facts), protocol);
}

void WaypointWorker::serveTcp(const std::shared_ptr<mesh::HboneConnection>& conn,
                              http2::StreamId id, const mesh::Service& service, uint16_t port,
                              const ConnectionFacts& facts) {
  const auto& snapshot = state_.get();
  const mesh::Workload* self = localWorkload(*snapshot);
  auto choice = upstreams_.choose(*snapshot, service, port, *self, random_);
  if (!choice) {
    ++connect_rejects_[503];
    spdlog::info("waypoint: TCP to {}:{}: {}", service.key(), port, choice.error().detail);
    (void)conn->session().respond(id, 503);
    conn->flush();
    return;
  }
  relayTo(conn, id, *choice,
          fmt::format("{}:{} -> {}", facts.service_key, facts.port, choice->address.toString()),
          facts.client);
}

void WaypointWorker::relayTo(const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
                             const UpstreamChoice& choice, const std::string& what,
                             const net::SocketAddress& client) {
  // Hold the client's stream (bytes it sends early wait in it) until the upstream answers.
  auto stream = std::make_unique<mesh::HboneStream>(conn);
  stream->bind(id);
  conn->attach(id, stream->handler());
  auto held = std::make_shared<std::unique_ptr<mesh::HboneStream>>(std::move(stream));
  std::weak_ptr<mesh::HboneConnection> weak = conn;
  std::string uid = choice.endpoint_uid;
  upstreams_.begin(uid);
  upstreams_.open(
      choice, client,
      [this, held, weak, id, uid, what](Result<std::unique_ptr<relay::ByteStream>> up) {
        auto c = weak.lock();
        if (!up || !c || c->closed()) {
          upstreams_.end(uid);
          if (c && !c->closed()) {
            (void)c->session().respond(id, 503);
            c->flush();
            ++connect_rejects_[503];
          }
          (*held)->releaseAnswered();
          held->reset();
          spdlog::info("waypoint: TCP {}: {}", what,
                       up ? "client went away" : up.error().message());
          return;
        }
        if (auto s = c->session().respond(id, 200); !s) {
          upstreams_.end(uid);
          return;
        }
        c->flush();
        startRelay(std::move(*held), std::move(*up), uid, what);
      });
}

void WaypointWorker::onRequestDone(const RequestRecord& record) {
  ++requests_;
  ++responses_[record.response_code];
  shared_.telemetry->finish(record);  // istio_requests_total..., the access log line, the span
  recent_.push(record);
  if (shared_.observer) shared_.observer(record);
}

void WaypointWorker::drain() {
  draining_ = true;
  if (listener_) loop_.close(listener_.release());
  server_.drain();
}

void WaypointWorker::shutdown() {
  shared_.certs->cancelWaits(loop_);
  for (auto& [p, s] : std::map(sessions_)) s->abort("waypoint stopping");
  sessions_.clear();
  for (auto& [p, s] : std::map(h2_sessions_)) s->abort("waypoint stopping");
  h2_sessions_.clear();
  for (auto& [p, d] : detecting_) d->abort();
  detecting_.clear();
  for (auto& [p, r] : std::map(relays_)) r->abort("waypoint stopping");
  relays_.clear();
  mirrors_.closeAll();
  h2_upstreams_.closeAll();
  upstreams_.closeAll();
  server_.closeAll("waypoint stopping");
  pool_.closeAll("waypoint stopping");
  if (listener_) loop_.close(listener_.release());
  loop_.runOnce(std::chrono::milliseconds(0));
}

nlohmann::json WaypointWorker::stats() const {
  nlohmann::json rejects = nlohmann::json::object();
  for (const auto& [s, n] : connect_rejects_) rejects[std::to_string(s)] = n;
  nlohmann::json responses = nlohmann::json::object();
  for (const auto& [s, n] : responses_) responses[std::to_string(s)] = n;
  size_t live_relays = 0;
  for (const auto& [p, r] : relays_) live_relays += r->finished() ? 0 : 1;
  return {{"worker", index_},
          {"hbone_connections_accepted", server_.accepted()},
          {"hbone_server_connections", server_.connections()},
          {"connects", connects_},
          {"connects_by_protocol", connects_by_protocol_},
          {"connect_rejects", rejects},
          {"http_sessions", sessions_.size()},
          {"http2_sessions", h2_sessions_.size()},
          {"http2_sessions_started", h2_sessions_started_},
          {"http2_goaways_sent", h2_goaways_sent_},
          {"protocols_detected", detected_},
          {"detecting", detecting_.size()},
          {"request_header_timeouts", header_timeouts_},
          {"tcp_relays_open", live_relays},
          {"tcp_relays_done", tcp_relays_done_},
          {"requests", requests_},
          {"responses", responses},
          {"upstreams", upstreams_.toJson()},
          {"resilience", resilience_.toJson()},
          {"retry_budget",
           {{"active_requests", retry_budget_.activeRequests()},
            {"active_retries", retry_budget_.activeRetries()},
            {"limit", retry_budget_.limit()},
            {"refused", retry_budget_.refusedCount()}}},
          {"mirrors", mirrors_.toJson()},
          {"h2_upstreams", h2_upstreams_.toJson()},
          {"loop", loopStats()}};
}

nlohmann::json WaypointWorker::loopStats() const {
  uring::LoopStats s = loop_.stats();
  return {{"wakeups", s.wakeups.get()},
          {"quiet_sends", s.quiet_sends.get()},
          {"quiet_sends_late", s.quiet_sends_late.get()}};
}

nlohmann::json WaypointWorker::recentRequests() const {
  nlohmann::json out = nlohmann::json::array();
  recent_.forEach([&](const RequestRecord& r) {  // oldest first
    out.push_back(nlohmann::json::parse(formatRequestCompleteJson(r)));
  });
  return out;
}

}  // namespace warren::waypoint
