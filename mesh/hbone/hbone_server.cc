#include "mesh/hbone/hbone_server.h"

#include <spdlog/spdlog.h>

#include "common/net/socket_info.h"

namespace warren::mesh {

Result<HboneServer::Socket> HboneServer::addressesOf(UniqueFd fd) {
  auto peer = net::peerAddress(fd.get());
  if (!peer) return fail(peer.error());
  auto local = net::localAddress(fd.get());
  if (!local) return fail(local.error());
  return Socket{std::move(fd), *peer, *local};
}

void HboneServer::accept(Socket socket, const identity::SpiffeId& identity, const std::string& what,
                         OnRequest on_request, AwaitCertificate await) {
  serve(std::move(socket), identity, what, std::move(on_request), std::move(await), false);
}

void HboneServer::serve(Socket socket, const identity::SpiffeId& identity, const std::string& what,
                        OnRequest on_request, AwaitCertificate await, bool waited) {
  auto ctx = server_tls_.get(identity);
  if (!ctx) {
    if (waited || !await) {
      spdlog::warn("HBONE for {}: {}; closing the connection", what, ctx.error().message());
      return;  // the socket closes: the client fails its handshake (never plaintext)
    }
    auto held = std::make_shared<Socket>(std::move(socket));
    auto retry = [this, held, identity, what, on_request, await]() mutable {
      serve(std::move(*held), identity, what, std::move(on_request), std::move(await), true);
    };
    await(std::move(retry));
    return;
  }
  auto engine = tls::TlsEngine::server(**ctx, HboneConnection::engineOptions());
  if (!engine) {
    spdlog::warn("HBONE TLS engine for {}: {}", what, engine.error().message());
    return;
  }
  net::SocketAddress local_addr = socket.local;
  auto conn = HboneConnection::create(
      loop_, std::move(socket.fd), std::move(*engine), http2::Role::kServer, config_,
      [on_request = std::move(on_request), local_addr](
          const std::shared_ptr<HboneConnection>& c, StreamId id,
          const http2::HeaderList& headers) { on_request(c, id, headers, local_addr); },
      [this](HboneConnection* c) { servers_.erase(c); });
  if (!conn) {
    spdlog::warn("HBONE connection for {}: {}", what, conn.error().message());
    return;
  }
  (*conn)->setPeerAddress(socket.peer);
  servers_[conn->get()] = *conn;
  ++accepted_;
  (*conn)->start();
  if (draining_) (*conn)->drain();
}

void HboneServer::drain() {
  draining_ = true;
  for (auto& [p, weak] : servers_) {
    if (auto c = weak.lock()) c->drain();
  }
}

void HboneServer::closeAll(const std::string& why) {
  auto all = servers_;
  for (auto& [p, weak] : all) {
    if (auto c = weak.lock()) c->close(why);
  }
  servers_.clear();
}

size_t HboneServer::bufferedBytes() const {
  size_t n = 0;
  for (const auto& [p, weak] : servers_) {
    if (auto c = weak.lock()) n += c->bufferedBytes();
  }
  return n;
}

size_t HboneServer::trackedStreams() const {
  size_t n = 0;
  for (const auto& [p, weak] : servers_) {
    if (auto c = weak.lock()) n += c->trackedStreams() + c->openStreams();
  }
  return n;
}

}  // namespace warren::mesh
