// InboundProxy: the destination side, inside the destination pod's netns. 15008: mTLS with
// the pod's certificate (waiting on the loop for the first one, event-driven), then per
// CONNECT the one inbound decision (mesh/routing/inbound_decision.h: 400 / 401 / 503), the
// connect to the app inside the pod (503 when it fails), 200, relay. 15006: plaintext steered
// by sk_lookup, authorized without identity (so PeerAuthentication STRICT denies it), relay.
// After every state change the open connections are authorized again and the ones now denied
// (or whose workload left the state) are closed.
#pragma once

#include <map>
#include <memory>

#include "common/http2/header.h"
#include "common/net/socket_address.h"
#include "common/unique_fd.h"
#include "mesh/hbone/hbone_connection.h"
#include "mesh/hbone/hbone_server.h"
#include "ztunnel/control/enrolled_pod.h"
#include "ztunnel/data/worker_context.h"

namespace warren::ztunnel {

class InboundProxy {
 public:
  explicit InboundProxy(WorkerContext& ctx)
      : ctx_(ctx), server_(ctx.loop, ctx.server_tls, ctx.options.http2) {}

  void acceptHbone(const std::shared_ptr<const EnrolledPod>& pod, mesh::HboneServer::Socket socket);
  void acceptPlain(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd);
  // Authorizes every open inbound connection again; denied ones end.
  void reevaluate();
  // GOAWAY on every HBONE server connection (drain): open streams finish, new ones are
  // refused; connections accepted from now on get theirs at once.
  void drain() { server_.drain(); }
  void closeAll(const std::string& why) { server_.closeAll(why); }
  size_t serverConnections() const { return server_.connections(); }
  size_t bufferedBytes() const { return server_.bufferedBytes(); }
  // Streams the server connections' sessions track and stream handlers they hold.
  size_t trackedStreams() const { return server_.trackedStreams(); }

 private:
  void onRequest(const std::shared_ptr<const EnrolledPod>& pod,
                 const std::shared_ptr<mesh::HboneConnection>& conn, http2::StreamId id,
                 const http2::HeaderList& headers, const net::SocketAddress& local);
  // Connects to the app inside `pod`, from `client`'s address where the pod's netns allows it
  // (DataPathSockets::dialApp); `done` gets the connected socket or why not.
  void connectUpstream(const EnrolledPod& pod, const net::SocketAddress& to,
                       const net::IpAddress& client, std::function<void(Result<UniqueFd>)> done);

  WorkerContext& ctx_;
  mesh::HboneServer server_;
};

}  // namespace warren::ztunnel
