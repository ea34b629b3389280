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

// A request waiting for a connection to `choice`.
struct Upstreams::Waiter {
  uint64_t id;
  UpstreamChoice choice;
  net::SocketAddress client;
  ConnectDone done;
};

// What one HTTP/1.1 upstream connection (open, or being opened) counts against: its worker's
// connections to the endpoint and its Service's limit. Held by the connection's conduit (or
// the open in progress); its end frees the place and wakes a request waiting for it.
struct Upstreams::ConnectionLease {
  ConnectionLease(Upstreams* o, std::string k, DestinationControl* in,
                  std::optional<ServiceKey> s)
      : owner(o), alive(o->alive_), key(std::move(k)), counted_in(in), service(std::move(s)) {}
  ~ConnectionLease() {
    if (!alive.expired()) owner->connectionClosed(key, counted_in, service);
  }
  ConnectionLease(const ConnectionLease&) = delete;  // one lease, one close
  ConnectionLease& operator=(const ConnectionLease&) = delete;

  Upstreams* owner;
  std::weak_ptr<bool> alive;
  std::string key;
  DestinationControl* counted_in;  // null: not counted against a Service
  std::optional<ServiceKey> service;
};

UpstreamWait::~UpstreamWait() {
  if (!alive_.expired()) owner_->stopWaiting(key_, id_);
}

Upstreams::Upstreams(uring::EventLoop& loop, mesh::HboneClientPool& pool,
                     mesh::TlsContextCache& client_tls, SelfIdentity self)
    : loop_(loop), pool_(pool), client_tls_(client_tls), self_(std::move(self)) {}

Upstreams::~Upstreams() {
  *alive_ = false;
  closeAll();
}

void Upstreams::end(const std::string& uid) {
  auto it = active_.find(uid);
  if (it == active_.end() || it->second == 0) return;
  // An endpoint's count stays at 0 when its last request ends: the next request to it (at a
  // fixed rate, one at a time, 0 -> 1 -> 0 per request) finds it instead of allocating it
  // again. Past kMaxIdleCounters endpoints (pods come and go), the idle ones are swept; the
  // next sweep waits until the counters have doubled again, so with more endpoints than that
  // busy at once a request's end does not walk them all each time (amortised O(1) per end).
  if (--it->second == 0 && active_.size() > sweep_above_) {
    std::erase_if(active_, [](const auto& e) { return e.second == 0; });
    sweep_above_ = std::max(kMaxIdleCounters, 2 * active_.size());
    ++idle_sweeps_;
  }
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
  auto c = chooseWorkload(snapshot, *picked->workload, picked->target_port);
  if (!c) return c;
  for (const auto& san : service.subject_alt_names) c->expected.push_back(san);
  c->service_hostname = service.hostname;
  c->destination = destination;
  c->destination_hosts = hosts;
  return c;
}

std::expected<UpstreamChoice, UpstreamRefusal> Upstreams::chooseWorkload(
    const mesh::StateSnapshot& snapshot, const mesh::Workload& w, uint16_t port) const {
  auto ip = mesh::pickAddress(w, false);
  auto id = snapshot.identity(w);
  if (!ip || !id) {
    return std::unexpected(UpstreamRefusal{
        ResponseFlag::kNoHealthyUpstream,
        fmt::format("endpoint {} has no {}", w.uid, !ip ? "address" : "valid identity")});
  }
  UpstreamChoice c;
  c.endpoint_uid = w.uid;
  c.address = net::SocketAddress{*ip, port};
  c.hbone = w.tunnel_protocol == mesh::TunnelProtocol::kHbone;
  c.expected.push_back(*id);
  return c;
}

bool Upstreams::takeIdle(const std::string& key, ConnectDone& done) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return false;
  std::unique_ptr<Idle> idle = std::move(it->second.back());
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  std::unique_ptr<StreamConduit> conduit = std::move(idle->conduit);
  conduit->setOwner(nullptr);
  conduit->wantInput(false);
  ++reuses_;
  auto held = std::make_shared<std::unique_ptr<StreamConduit>>(std::move(conduit));
  loop_.post([held, done = std::move(done)]() mutable { done(std::move(*held), true); });
  return true;
}

Result<std::unique_ptr<UpstreamWait>> Upstreams::connect(const UpstreamChoice& choice,
                                                         const net::SocketAddress& client,
                                                         ConnectDone done, bool allow_idle) {
  if (allow_idle && takeIdle(choice.key(), done)) return nullptr;
  if (destinations_ && choice.destination) {
    const bool first = !connections_.contains(choice.key());
    if (!destinations_->beginConnection(*choice.destination, /*anyway=*/first)) {
      // At the Service's connection limit, with connections of this worker to wait for.
      if (!destinations_->beginPending(*choice.destination))
        return fail(Error(ErrorCode::kUnavailable, kPendingOverflow));
      const uint64_t id = ++next_wait_;
      waiters_[choice.key()].push_back(Waiter{id, choice, client, std::move(done)});
      return std::make_unique<UpstreamWait>(this, alive_, choice.key(), id);
    }
  }
  openConnection(choice, client, std::move(done));
  return nullptr;
}

void Upstreams::openConnection(const UpstreamChoice& choice, const net::SocketAddress& client,
                               ConnectDone done) {
  ++connections_[choice.key()];
  const bool counted = destinations_ && choice.destination;
  auto lease = std::make_shared<ConnectionLease>(this, choice.key(),
                                                 counted ? destinations_ : nullptr,
                                                 counted ? choice.destination : std::nullopt);
  open(choice, client,
       [done = std::move(done), lease](Result<std::unique_ptr<relay::ByteStream>> s) mutable {
         if (!s) {
           done(fail(s.error()), false);  // the lease ends with this callback
           return;
         }
         auto conduit = std::make_unique<StreamConduit>(std::move(*s), nullptr);
         conduit->hold(std::move(lease));
         done(std::move(conduit), false);
       });
}

void Upstreams::connectionClosed(const std::string& key, DestinationControl* counted_in,
                                 const std::optional<ServiceKey>& service) {
  if (auto it = connections_.find(key); it != connections_.end() && --it->second == 0)
    connections_.erase(it);
  if (counted_in && service) counted_in->endConnection(*service);
  if (!waiters_.contains(key)) return;
  // Not from inside the closing conduit's call stack.
  loop_.post([this, alive = std::weak_ptr<bool>(alive_), key] {
    if (!alive.expired()) wake(key);
  });
}

void Upstreams::wake(const std::string& key) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  Waiter& first = it->second.front();
  if (destinations_ && first.choice.destination &&
      !destinations_->beginConnection(*first.choice.destination,
                                      /*anyway=*/!connections_.contains(key)))
    return;  // another worker took the place: the next release or close wakes it
  Waiter w = std::move(first);
  it->second.pop_front();
  if (it->second.empty()) waiters_.erase(it);
  if (destinations_ && w.choice.destination) destinations_->endPending(*w.choice.destination);
  openConnection(w.choice, w.client, std::move(w.done));
}

void Upstreams::stopWaiting(const std::string& key, uint64_t id) {
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  auto& list = it->second;
  for (auto w = list.begin(); w != list.end(); ++w) {
    if (w->id != id) continue;
    if (destinations_ && w->choice.destination) destinations_->endPending(*w->choice.destination);
    list.erase(w);
    if (list.empty()) waiters_.erase(it);
    return;
  }
}

size_t Upstreams::waitingCount() const {
  size_t n = 0;
  for (const auto& [k, l] : waiters_) n += l.size();
  return n;
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
  if (auto it = waiters_.find(key); it != waiters_.end()) {
    // Handed over as it is, to the request that waited longest.
    Waiter w = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) waiters_.erase(it);
    if (destinations_ && w.choice.destination) destinations_->endPending(*w.choice.destination);
    conduit->setOwner(nullptr);
    conduit->wantInput(false);
    ++reuses_;
    auto held = std::make_shared<std::unique_ptr<StreamConduit>>(std::move(conduit));
    loop_.post([held, done = std::move(w.done)]() mutable { done(std::move(*held), true); });
    return;
  }
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

void Upstreams::closeAll() {
  idle_.clear();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [key, list] : waiters)
    for (auto& w : list)
      if (destinations_ && w.choice.destination) destinations_->endPending(*w.choice.destination);
}

nlohmann::json Upstreams::toJson() const {
  nlohmann::json endpoints = nlohmann::json::object();
  for (const auto& [uid, n] : active_)
    if (n > 0) endpoints[uid]["active_requests"] = n;
  nlohmann::json idle = nlohmann::json::object();
  for (const auto& [key, l] : idle_) idle[key] = l.size();
  nlohmann::json open = nlohmann::json::object();
  for (const auto& [key, n] : connections_) open[key] = n;
  nlohmann::json waiting = nlohmann::json::object();
  for (const auto& [key, l] : waiters_) waiting[key] = l.size();
  return {{"active", endpoints},
          {"idle_connections", idle},
          {"http1_connections", open},
          {"waiting_for_connection", waiting},
          {"tunnels_opened", tunnels_opened_},
          {"tunnel_failures", tunnel_failures_},
          {"keepalive_reuses", reuses_},
          {"hbone_connections", pool_.connectionCount()}};
}

}  // namespace warren::waypoint
