#include "mesh/hbone/hbone_client_pool.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "common/net/socket_info.h"

namespace warren::mesh {

HboneClientPool::Key HboneClientPool::Key::make(identity::SpiffeId source,
                                                net::SocketAddress destination,
                                                std::vector<identity::SpiffeId> expected) {
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  return Key{std::move(source), destination, std::move(expected)};
}

std::string HboneClientPool::Key::toString() const {
  std::string out = source.uri() + " -> " + destination.toString() + " [";
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i > 0) out += ", ";
    out += expected[i].uri();
  }
  return out + "]";
}

struct HboneClientPool::Tunnel {
  Key key;
  http2::HeaderList headers;
  Dialer dialer;
  OnTunnel done;
  int retries_left = kStreamRetries;
};

HboneClientPool::~HboneClientPool() { closeAll("pool destroyed"); }

void HboneClientPool::open(const Key& key, http2::HeaderList headers, Dialer dialer,
                           OnTunnel done) {
  auto t = std::make_shared<Tunnel>(
      Tunnel{key, std::move(headers), std::move(dialer), std::move(done), kStreamRetries});
  attempt(std::move(t));
}

void HboneClientPool::attempt(std::shared_ptr<Tunnel> t) {
  auto fail_later = [this, t](const std::string& why) {
    loop_.post([t, why] { t->done(0, nullptr, why); });
  };
  if (closed_) {
    fail_later("HBONE client pool closed");
    return;
  }
  auto conn = connectionFor(t->key, t->dialer);
  if (!conn) {
    fail_later(conn.error().message());
    return;
  }
  auto stream = std::make_unique<HboneStream>(*conn);
  auto id = (*conn)->openStream(t->headers, stream->handler());
  if (!id) {
    fail_later(id.error().message());
    return;
  }
  stream->bind(*id);
  HboneStream* raw = stream.get();
  // OnResponse must be copyable (std::function): the stream travels in a shared holder.
  auto held = std::make_shared<std::unique_ptr<HboneStream>>(std::move(stream));
  std::weak_ptr<bool> alive = alive_;
  raw->onResponse([this, alive, t, held](int status, const std::string& why, bool refused) {
    if (alive.expired()) return;  // the pool is gone (its worker stopped)
    if (status == 0 && refused && t->retries_left > 0) {
      // Ended before any response: refused by a server going away, or the connection broke
      // before the CONNECT was processed (invariant 4). The connection that refused it is
      // going away or closed, so connectionFor() never picks it again.
      spdlog::debug("HBONE {}: stream refused ({}), retrying", t->key.toString(), why);
      held->reset();
      --t->retries_left;
      attempt(t);
      return;
    }
    if (status != 200) {
      held->reset();
      t->done(status, nullptr,
              status == 0 ? why : fmt::format("HBONE CONNECT answered {}", status));
      return;
    }
    t->done(200, std::move(*held), "");
  });
}

Result<std::shared_ptr<HboneConnection>> HboneClientPool::connectionFor(const Key& key,
                                                                        const Dialer& dialer) {
  auto it = pool_.find(key);
  if (it != pool_.end()) {
    std::vector<PooledConnectionLoad> loads;
    loads.reserve(it->second.size());
    for (const auto& c : it->second) {
      loads.push_back({c->canOpenStream(), c->goingAway(), c->openStreams()});
    }
    if (auto pick = chooseConnection(loads, spread_)) return it->second[*pick];  // invariant 1
  }
  return dial(key, dialer);  // invariants 2 and 6
}

Result<std::shared_ptr<HboneConnection>> HboneClientPool::dial(const Key& key,
                                                               const Dialer& dialer) {
  if (key.expected.empty()) return fail(Error::invalid("no expected server identity"));
  auto ctx = dialer.tls();
  if (!ctx) return fail(ctx.error());
  auto engine = tls::TlsEngine::client(**ctx, key.expected, HboneConnection::engineOptions());
  if (!engine) return fail(engine.error());
  auto sock = dialer.socket(key.destination);
  if (!sock) return fail(sock.error());
  int raw = sock->fd.get();
  // Set once the connect completed (dialled()).
  auto local = std::make_shared<std::optional<net::SocketAddress>>();
  auto conn = HboneConnection::create(
      loop_, std::move(sock->fd), std::move(*engine), http2::Role::kClient, config_, nullptr,
      [this, key, local](HboneConnection* c) {
        connecting_.erase(c);
        if (*local) connected_.erase(**local);
        // Invariant 3: a closed connection leaves at once.
        auto it = pool_.find(key);
        if (it == pool_.end()) return;
        std::erase_if(it->second, [c](const auto& p) { return p.get() == c; });
        if (it->second.empty()) pool_.erase(it);
      });
  if (!conn) return fail(conn.error());
  (*conn)->setPeerAddress(key.destination);
  (*conn)->drainWhenIdleFor(idle_timeout_);  // invariant 5
  std::weak_ptr<HboneConnection> weak = *conn;
  auto to = sock->connect_to;
  auto sa = to.toSockaddr();
  // TLS and HTTP/2 queue their first flights until the connect completes.
  std::weak_ptr<bool> alive = alive_;
  loop_.connect(raw, sa.get(), sa.length, [this, alive, weak, to, raw, local](int res) {
    auto c = weak.lock();
    if (!c) return;
    if (res < 0) {
      c->close(Error::system(-res, "connect to " + to.toString()).message());
      return;
    }
    if (!alive.expired() && !c->closed() && connecting_.erase(c.get()) > 0) {
      if (auto a = net::localAddress(raw)) {
        *local = *a;
        connected_[*a] = to;
      }
    }
    c->start();
  });
  connecting_[conn->get()] = Connecting{raw, to};
  pool_[key].push_back(*conn);
  return *conn;
}

bool HboneClientPool::dialled(const net::SocketAddress& from, const net::SocketAddress& to) const {
  if (auto it = connected_.find(from); it != connected_.end()) return it->second == to;
  for (const auto& [conn, c] : connecting_) {
    if (c.to != to) continue;
    auto a = net::localAddress(c.fd);
    if (a && *a == from) return true;
  }
  return false;
}

size_t HboneClientPool::connections(const Key& key) const {
  auto it = pool_.find(key);
  return it == pool_.end() ? 0 : it->second.size();
}

size_t HboneClientPool::connectionCount() const {
  size_t n = 0;
  for (const auto& [key, conns] : pool_) n += conns.size();
  return n;
}

size_t HboneClientPool::bufferedBytes() const {
  size_t n = 0;
  for (const auto& [key, conns] : pool_) {
    for (const auto& c : conns) n += c->bufferedBytes();
  }
  return n;
}

size_t HboneClientPool::trackedStreams() const {
  size_t n = 0;
  for (const auto& [key, conns] : pool_) {
    for (const auto& c : conns) n += c->trackedStreams() + c->openStreams();
  }
  return n;
}

void HboneClientPool::closeAll(const std::string& why) {
  closed_ = true;
  auto all = std::move(pool_);
  pool_.clear();
  for (auto& [key, conns] : all) {
    for (auto& c : conns) c->close(why);
  }
}

}  // namespace warren::mesh
