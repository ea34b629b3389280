#include "waypoint/proxy/upstreams.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/hbone/connect_request.h"
#include "common/net/socket_factory.h"
#include "common/relay/socket_stream.h"
#include "mesh/routing/endpoint_selector.h"

namespace warren::waypoint {

// An idle kept-alive connection: any byte or the end from the server retires it (a server
// says nothing between responses).
struct Upstreams::Idle final : ConduitOwner {
  Upstreams* owner;
  std::string key;
  std::unique_ptr<StreamConduit> conduit;
  void onInput() override { owner->dropIdle(this); }
  void onInputEnd() override { owner->dropIdle(this); }
  void onDrained() override {}
  void onFailed(const Error&) override { owner->dropIdle(this); }
};

Upstreams::Upstreams(uring::EventLoop& loop, mesh::HboneClientPool& pool,
                     mesh::TlsContextCache& client_tls, SelfIdentity self)
    : loop_(loop), pool_(pool), client_tls_(client_tls), self_(std::move(self)) {}

Upstreams::~Upstreams() {
  *alive_ = false;
  closeAll();
}

void Upstreams::end(const std::string& uid) {
  auto it = active_.find(uid);
  if (it == active_.end()) return;
  if (--it->second == 0) active_.erase(it);
}

void Upstreams::end(UpstreamChoice& choice) {
  end(choice.endpoint_uid);
  if (choice.holds_request_slot && destinations_ && choice.destination)
    destinations_->endRequest(*choice.destination);
  choice.holds_request_slot = false;
}

bool Upstreams::admit(UpstreamChoice& choice) {
  if (!destinations_ || !choice.destination) return true;
  if (!destinations_->beginRequest(*choice.destination)) return false;
  choice.holds_request_slot = true;
  return true;
}

void Upstreams::report(const UpstreamChoice& choice, AttemptOutcome outcome) {
  if (!destinations_ || !choice.destination) return;
  destinations_->report(*choice.destination, choice.endpoint_uid, outcome,
                        choice.destination_hosts);
}

uint32_t Upstreams::active(const std::string& uid) const {
  auto it = active_.find(uid);
  return it == active_.end() ? 0 : it->second;
}

std::expected<UpstreamChoice, UpstreamRefusal> Upstreams::choose(
    const mesh::StateSnapshot& snapshot, const mesh::Service& service, uint16_t port,
    const mesh::Workload& source, mesh::RandomSource& random,
    const std::vector<std::string>* avoid) {
  // A tried endpoint looks this much busier: it loses every comparison with an untried one.
  constexpr uint32_t kTriedPenalty = 1u << 20;
  const ServiceKey destination{service.namespace_, service.name};
  const size_t hosts = snapshot.endpoints(service).size();
  std::set<std::string> ejected;
  if (destinations_) ejected = destinations_->excluded(destination, hosts);
  mesh::SkipEndpoint skip;
  if (!ejected.empty()) skip = [&ejected](const mesh::Workload& w) { return ejected.contains(w.uid); };
  auto picked = mesh::selectEndpointLeastRequest(
      snapshot, service, port, source, random,
      [this, avoid](const mesh::Workload& w) {
        uint32_t n = active(w.uid);
        if (avoid && std::find(avoid->begin(), avoid->end(), w.uid) != avoid->end())
          n += kTriedPenalty;
        return n;
      },
      skip);
  if (!picked) {
    return std::unexpected(UpstreamRefusal{
        ResponseFlag::kNoHealthyUpstream,
        ejected.empty()
            ? fmt::format("no healthy endpoint of {} for port {}", service.key(), port)
            : fmt::format("no healthy endpoint of {} for port {} ({} ejected by outlier detection)",
                          service.key(), port, ejected.size())});
  }
  auto c = chooseWorkload(*picked->workload, picked->target_port);
  if (!c) return c;
  for (const auto& san : service.subject_alt_names) c->expected.push_back(san);
  c->service_hostname = service.hostname;
  c->destination = destination;
  c->destination_hosts = hosts;
  return c;
}

std::expected<UpstreamChoice, UpstreamRefusal> Upstreams::chooseWorkload(const mesh::Workload& w,
                                                                         uint16_t port) const {
  auto ip = mesh::pickAddress(w, false);
  auto id = w.identity();
  if (!ip || !id) {
    return std::unexpected(UpstreamRefusal{
        ResponseFlag::kNoHealthyUpstream,
        fmt::format("endpoint {} has no {}", w.uid, !ip ? "address" : "valid identity")});
  }
  UpstreamChoice c;
  c.endpoint_uid = w.uid;
  c.workload_name = w.workload_name.empty() ? w.name : w.workload_name;
  c.workload_namespace = w.namespace_;
  c.identity = id->uri();
  c.address = net::SocketAddress{*ip, port};
  c.hbone = w.tunnel_protocol == mesh::TunnelProtocol::kHbone;
  c.expected.push_back(*id);
  return c;
}

void Upstreams::connect(const UpstreamChoice& choice, const net::SocketAddress& client,
                        std::function<void(Result<std::unique_ptr<StreamConduit>>, bool)> done,
                        bool allow_idle) {
  if (auto it = idle_.find(choice.key()); allow_idle && it != idle_.end() && !it->second.empty()) {
    std::unique_ptr<Idle> idle = std::move(it->second.back());
    it->second.pop_back();
    if (it->second.empty()) idle_.erase(it);
    std::unique_ptr<StreamConduit> conduit = std::move(idle->conduit);
    conduit->setOwner(nullptr);
    conduit->wantInput(false);
    ++reuses_;
    auto held = std::make_shared<std::unique_ptr<StreamConduit>>(std::move(conduit));
    loop_.post([held, done = std::move(done)]() mutable { done(std::move(*held), true); });
    return;
  }
  open(choice, client, [done = std::move(done)](Result<std::unique_ptr<relay::ByteStream>> s) {
    if (!s) {
      done(fail(s.error()), false);
      return;
    }
    done(std::make_unique<StreamConduit>(std::move(*s), nullptr), false);
  });
}

void Upstreams::open(const UpstreamChoice& choice, const net::SocketAddress& client,
                     std::function<void(Result<std::unique_ptr<relay::ByteStream>>)> done) {
  if (!choice.hbone) {
    auto fd = net::SocketFactory::tcpSocket(choice.address.family(), net::SocketOptions{});
    if (!fd) {
      loop_.post([done = std::move(done), e = fd.error()]() mutable { done(fail(e)); });
      return;
    }
    auto held = std::make_shared<UniqueFd>(std::move(*fd));
    auto sa = choice.address.toSockaddr();
    std::weak_ptr<bool> alive = alive_;
    loop_.connect(held->get(), sa.get(), sa.length,
                  [this, alive, held, done = std::move(done), to = choice.address](int res) {
                    if (res < 0) {
                      // Through the loop, so its backend forgets the fd (epoll keeps a
                      // registration per fd number, which the next socket would inherit).
                      if (!alive.expired()) loop_.close(held->release());
                      done(fail(Error::system(-res, "connect to " + to.toString())));
                      return;
                    }
                    if (alive.expired()) return;
                    done(std::unique_ptr<relay::ByteStream>(
                        std::make_unique<relay::SocketStream>(loop_, std::move(*held))));
                  });
    return;
  }
  auto self = self_();
  if (!self) {
    loop_.post([done = std::move(done)]() mutable {
      done(fail(Error(ErrorCode::kUnavailable, "the waypoint has no identity yet")));
    });
    return;
  }
  hbone::ConnectRequest req;
  req.target = choice.address;
  req.source = client;
  if (!choice.service_hostname.empty()) req.service_host = choice.service_hostname;
  req.baggage.namespace_name = self->ns();
  req.baggage.workload_type = "deployment";
  req.traceparent = hbone::TraceParent::random();
  auto key = mesh::HboneClientPool::Key::make(
      *self, net::SocketAddress{choice.address.ip, mesh::kHboneMtlsPort}, choice.expected);
  mesh::HboneClientPool::Dialer dialer{
      [this, id = *self] { return client_tls_.get(id); },
      [](const net::SocketAddress& to) -> Result<mesh::DialedSocket> {
        auto fd = net::SocketFactory::tcpSocket(to.family(), net::SocketOptions{});
        if (!fd) return fail(fd.error());
        return mesh::DialedSocket{std::move(*fd), to};
      }};
  std::weak_ptr<bool> alive = alive_;
  pool_.open(key, hbone::buildConnectHeaders(req), std::move(dialer),
             [this, alive, done = std::move(done), to = choice.address](
                 int status, std::unique_ptr<mesh::HboneStream> stream, const std::string& error) {
               if (alive.expired()) return;
               if (status != 200) {
                 ++tunnel_failures_;
                 done(fail(Error(
                     ErrorCode::kUnavailable,
                     fmt::format("HBONE to {}: {}", to.toString(),
                                 status ? fmt::format("status {} {}", status, error) : error))));
                 return;
               }
               ++tunnels_opened_;
               done(std::unique_ptr<relay::ByteStream>(std::move(stream)));
             });
}

void Upstreams::release(const std::string& key, std::unique_ptr<StreamConduit> conduit) {
  if (!conduit || conduit->closed() || conduit->inputEnded() || !conduit->input().empty())
    return;  // closes
  auto& list = idle_[key];
  if (list.size() >= kMaxIdlePerEndpoint) return;
  auto idle = std::make_unique<Idle>();
  idle->owner = this;
  idle->key = key;
  idle->conduit = std::move(conduit);
  idle->conduit->setOwner(idle.get());
  idle->conduit->wantInput(true);
  list.push_back(std::move(idle));
}

void Upstreams::dropIdle(Idle* idle) {
  auto it = idle_.find(idle->key);
  if (it == idle_.end()) return;
  auto& list = it->second;
  for (auto i = list.begin(); i != list.end(); ++i) {
    if (i->get() != idle) continue;
    // Destroyed from its own conduit's callback: the conduit tolerates that (alive token).
    std::unique_ptr<Idle> gone = std::move(*i);
    list.erase(i);
    if (list.empty()) idle_.erase(it);
    loop_.post([gone = std::shared_ptr<Idle>(std::move(gone))] {});
    return;
  }
}

size_t Upstreams::idleCount() const {
  size_t n = 0;
  for (const auto& [k, l] : idle_) n += l.size();
  return n;
}

void Upstreams::closeAll() { idle_.clear(); }

nlohmann::json Upstreams::toJson() const {
  nlohmann::json endpoints = nlohmann::json::object();
  for (const auto& [uid, n] : active_) endpoints[uid]["active_requests"] = n;
  nlohmann::json idle = nlohmann::json::object();
  for (const auto& [key, l] : idle_) idle[key] = l.size();
  return {{"active", endpoints},
          {"idle_connections", idle},
          {"tunnels_opened", tunnels_opened_},
          {"tunnel_failures", tunnel_failures_},
          {"keepalive_reuses", reuses_},
          {"hbone_connections", pool_.connectionCount()}};
}

}  // namespace warren::waypoint
