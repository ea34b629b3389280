#include "ztunnel/data/worker.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "common/net/socket_factory.h"
#include "common/net/socket_info.h"

namespace warren::ztunnel {

Worker::Worker(unsigned index, uring::EventLoop& loop, const mesh::SnapshotStore& store,
               mesh::CertificateSource& certs, DataPathSockets& sockets,
               const DataPlaneOptions& options, DataPathMetrics& metrics,
               std::function<uint64_t()> next_id, unsigned workers, PostToWorker post)
    : index_(index),
      workers_(workers),
      post_(std::move(post)),
      ctx_(loop, store, certs, sockets, options, metrics.tcp, std::move(next_id)),
      random_(0x5eed0000ULL + index),
      pool_(loop, options.http2, options.pool_idle_timeout, options.pool_spread),
      outbound_(ctx_, pool_, random_),
      inbound_(ctx_) {
  for (size_t k = 0; k < accepted_.size(); ++k) {
    if (!metrics.accepted) break;  // no registry (tests that do not count)
    auto c = metrics.accepted->withLabels(
        {std::to_string(index), listenerPortName(static_cast<ListenerKind>(k))});
    if (c) accepted_[k] = *c;
  }
  if (metrics.accept_pauses) {
    if (auto c = metrics.accept_pauses->withLabels({std::to_string(index)})) accept_pauses_ = *c;
  }
  if (metrics.handovers) {
    if (auto c = metrics.handovers->withLabels({std::to_string(index)})) handovers_ = *c;
  }
}

void Worker::acceptHbone(const std::shared_ptr<const EnrolledPod>& pod, UniqueFd conn) {
  auto socket = mesh::HboneServer::addressesOf(std::move(conn));
  if (!socket) {
    spdlog::warn("HBONE connection for {}/{}: {}", pod->namespace_, pod->name,
                 socket.error().message());
    return;
  }
  if (post_ && pool_.dialled(socket->peer, socket->local)) {
    unsigned to = (index_ + 1) % workers_;
    auto held = std::make_shared<mesh::HboneServer::Socket>(std::move(*socket));
    auto serve = [pod, held](Worker& w) {
      if (!w.stopped_) w.inbound_.acceptHbone(pod, std::move(*held));  // else: it closes
    };
    if (post_(to, serve)) {
      if (handovers_) handovers_->inc();
      return;
    }
    socket = std::move(*held);  // the plane is stopping: served here
  }
  inbound_.acceptHbone(pod, std::move(*socket));
}

void Worker::armAccept(int listener, const std::shared_ptr<const EnrolledPod>& owner,
                       ListenerKind kind) {
  std::weak_ptr<const EnrolledPod> weak = owner;
  ctx_.loop.acceptMultishot(listener, [this, weak, kind, listener](int res) {
    if (res == -ECANCELED) return;
    auto pod = weak.lock();
    if (res < 0) {
      // The kernel ended the accept: EMFILE at RLIMIT_NOFILE, ENFILE, ENOMEM... The connection
      // that met it stays in the listen backlog. Accept again after a pause, or the listener
      // would go deaf for good; meanwhile new connections wait in the backlog (served once
      // descriptors are free, or timed out by their client), never bypassed.
      if (pod) {
        auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning_ >= std::chrono::seconds(1)) {
          last_accept_warning_ = now;
          spdlog::warn("accept on {} for {}/{}: {} (accepting again in {} ms)",
                       listenerPortName(kind), pod->namespace_, pod->name,
                       std::strerror(-res), kAcceptRetryDelay.count());
        }
        if (accept_pauses_) accept_pauses_->inc();
        rearmAcceptLater(listener, pod, kind);
      }
      return;
    }
    UniqueFd conn(res);
    if (!pod) return;  // the pod is gone: closing it refuses the connection
    if (auto* c = accepted_[static_cast<size_t>(kind)]) c->inc();
    // Accepted while draining (the listener was closing): still served; HBONE connections
    // get their GOAWAY at once.
    (void)net::SocketFactory::configureAccepted(conn.get(), net::SocketOptions{});
    switch (kind) {
      case ListenerKind::kOutbound:
        outbound_.accept(pod, std::move(conn));
        break;
      case ListenerKind::kInboundPlain:
        inbound_.acceptPlain(pod, std::move(conn));
        break;
      case ListenerKind::kHbone:
        acceptHbone(pod, std::move(conn));
        break;
    }
  });
}

void Worker::rearmAcceptLater(int listener, const std::shared_ptr<const EnrolledPod>& owner,
                              ListenerKind kind) {
  std::weak_ptr<const EnrolledPod> weak = owner;
  ctx_.loop.timeout(kAcceptRetryDelay, [this, weak, kind, listener](int res) {
    if (res == -ECANCELED || draining_) return;
    auto pod = weak.lock();
    if (!pod) return;
    // Only while this very listener is still the pod's (a removed pod's fd number may be
    // reused by another socket).
    auto it = pods_.find(pod->uid);
    if (it == pods_.end() || it->second.pod != pod ||
        it->second.listeners[static_cast<int>(kind)].get() != listener)
      return;
    armAccept(listener, pod, kind);
  });
}

void Worker::addPod(std::shared_ptr<const EnrolledPod> pod, ListenerSet listeners) {
  auto& slot = pods_[pod->uid];
  slot.pod = std::move(pod);
  slot.listeners = std::move(listeners);
  if (draining_) return;
  for (size_t k = 0; k < slot.listeners.size(); ++k) {
    armAccept(slot.listeners[k].get(), slot.pod, static_cast<ListenerKind>(k));
  }
}

void Worker::removePod(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  // Closing through the loop cancels the multishot accepts first.
  for (auto& fd : it->second.listeners) {
    if (fd) ctx_.loop.close(fd.release());
  }
  pods_.erase(it);
}

void Worker::drain() {
  draining_ = true;
  for (auto& [uid, slot] : pods_) {
    for (auto& fd : slot.listeners) {
      if (fd) ctx_.loop.close(fd.release());
    }
  }
  inbound_.drain();
}

void Worker::shutdown() {
  stopped_ = true;
  // No wait may fire into this loop once it is gone.
  ctx_.certs.cancelWaits(ctx_.loop);
  ctx_.store.cancelWaits(ctx_.loop);
  ctx_.connections.abortAll("ztunnel stopping");
  inbound_.closeAll("ztunnel stopping");
  pool_.closeAll("ztunnel stopping");
  pods_.clear();
  ctx_.loop.runOnce(std::chrono::milliseconds(0));
}

nlohmann::json Worker::connections() const {
  auto items = ctx_.connections.toJson();
  for (auto& item : items) item["worker"] = index_;
  return items;
}

Worker::Stats Worker::stats() const {
  Stats s;
  s.connections = ctx_.connections.size();
  s.client_connections = pool_.connectionCount();
  s.server_connections = inbound_.serverConnections();
  s.buffered_bytes =
      ctx_.connections.bufferedBytes() + pool_.bufferedBytes() + inbound_.bufferedBytes();
  s.tracked_streams = pool_.trackedStreams() + inbound_.trackedStreams();
  auto loop = ctx_.loop.stats();
  s.loop_operations = loop.ops_in_flight;
  s.loop_wakeups = loop.wakeups;
  s.quiet_sends = loop.quiet_sends;
  s.quiet_sends_late = loop.quiet_sends_late;
  return s;
}

}  // namespace warren::ztunnel
