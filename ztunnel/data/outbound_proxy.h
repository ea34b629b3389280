// OutboundProxy: 15001 inside the source pod's netns (INTEROP §6). Per accepted connection:
// wait (on the loop, event-driven) for the pod's workload in the state if it is not there
// yet, read the original destination, decide with buildRequest (pure), then either HBONE —
// wait for the pod's certificate if needed, open a CONNECT stream through the worker's pool —
// or plain TCP for destinations outside the mesh, and relay. A route error, a missing
// certificate at the deadline or a non-200 answer closes the app's socket: never plaintext to
// a mesh destination.
#pragma once

#include <memory>

#include "common/net/socket_address.h"
#include "common/relay/socket_stream.h"
#include "common/unique_fd.h"
#include "mesh/hbone/hbone_client_pool.h"
#include "mesh/routing/random_source.h"
#include "mesh/routing/route_decision.h"
#include "ztunnel/control/enrolled_pod.h"
#include "ztunnel/data/worker_context.h"

namespace warren::ztunnel {

class OutboundProxy {
 public:
  OutboundProxy(WorkerContext& ctx, mesh::HboneClientPool& pool, mesh::RandomSource& random)
      : ctx_(ctx), pool_(pool), random_(random) {}

  void accept(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd);

 private:
  void route(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd fd);
  void passthrough(const std::shared_ptr<const EnrolledPod>& pod,
                   std::shared_ptr<ProxyConnection> pc, std::unique_ptr<relay::SocketStream> app,
                   const net::SocketAddress& to);
  void tunnel(const std::shared_ptr<const EnrolledPod>& pod, std::shared_ptr<ProxyConnection> pc,
              std::unique_ptr<relay::SocketStream> app, mesh::HboneRoute route,
              net::SocketAddress source, bool waited_for_certificate);

  WorkerContext& ctx_;
  mesh::HboneClientPool& pool_;
  mesh::RandomSource& random_;
};

}  // namespace warren::ztunnel
