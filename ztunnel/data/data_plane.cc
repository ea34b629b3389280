#include "ztunnel/data/data_plane.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <future>
#include <mutex>

#include "common/net/socket_factory.h"

namespace warren::ztunnel {
namespace {

enum ListenerKind { kOutbound = 0, kInboundPlain = 1, kHbone = 2 };
const char* kKindNames[] = {"15001", "15006", "15008"};

Result<UniqueFd> duplicate(int fd, const char* what) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return fail(WARREN_SYS_ERROR(fmt::format("dup of the {} listener", what)));
  return UniqueFd(d);
}

}  // namespace

DataPlane::DataPlane(DataPlaneOptions options, const SnapshotStore& store,
                     CertificateManager& certs, metrics::IstioTcpMetrics tcp_metrics)
    : options_(std::move(options)), store_(store), certs_(certs), tcp_metrics_(tcp_metrics) {}

DataPlane::~DataPlane() { stop(); }

Status DataPlane::start() {
  auto backend = uring::backendFromEnvironment();
  if (!backend) return fail(backend.error());
  uring::LoopOptions lo;
  lo.backend = *backend;
  unsigned n = options_.workers == 0 ? std::max(1u, std::thread::hardware_concurrency())
                                     : options_.workers;
  workers_.resize(n);
  std::mutex mu;
  auto threads = uring::WorkerThreads::start(
      n, lo,
      [this, &mu](uring::EventLoop& loop, unsigned i) -> Status {
        std::lock_guard lock(mu);
        workers_[i] = std::make_unique<Worker>(*this, i, loop, store_);
        if (i == 0) backend_ = loop.describe();
        return ok();
      },
      [this](uring::EventLoop& loop, unsigned i) {
        // On the worker's own thread, after its loop stopped: close everything it owns while
        // the loop still exists (closes go through it).
        auto& w = *workers_[i];
        for (auto& [id, c] : w.connections)
          if (c->relay) c->relay->abort("ztunnel stopping");
        w.connections.clear();
        for (auto& [p, weak] : w.servers)
          if (auto c = weak.lock()) c->close("ztunnel stopping");
        w.servers.clear();
        for (auto& [key, conns] : w.pool)
          for (auto& c : conns) c->close("ztunnel stopping");
        w.pool.clear();
        w.pods.clear();
        loop.runOnce(std::chrono::milliseconds(0));
      });
  if (!threads) return fail(threads.error().wrap("starting the data-path workers"));
  threads_ = std::move(*threads);
  {
    std::unique_lock lock(life_mu_);
    running_ = true;
  }
  spdlog::info("data path: {} workers, {}", n, backend_);
  return ok();
}

void DataPlane::stop() {
  {
    // From here on no other thread posts to a worker (they check running_ under the lock).
    std::unique_lock lock(life_mu_);
    running_ = false;
  }
  if (threads_) threads_->stop();  // joins; each worker cleans up in its exit hook
  threads_.reset();
  workers_.clear();
}

void DataPlane::armAccept(Worker& w, int listener, const std::shared_ptr<const PodContext>& owner,
                          int kind) {
  Worker* worker = &w;
  std::weak_ptr<const PodContext> weak = owner;
  w.loop.acceptMultishot(listener, [worker, weak, kind](int res) {
    if (res == -ECANCELED) return;
    auto pod = weak.lock();
    if (res < 0) {
      if (pod) {
        spdlog::warn("accept on {} for {}/{}: {}", kKindNames[kind], pod->namespace_, pod->name,
                     std::strerror(-res));
      }
      return;
    }
    UniqueFd conn(res);
    // Accepted while draining (the listener was closing): still served; HBONE connections
    // get their GOAWAY at once (acceptHbone).
    if (!pod) return;  // the pod is gone: closing it refuses the connection
    (void)net::SocketFactory::configureAccepted(conn.get(), net::SocketOptions{});
    switch (kind) {
      case kOutbound:
        acceptOutbound(*worker, pod, std::move(conn));
        break;
      case kInboundPlain:
        acceptInboundPlain(*worker, pod, std::move(conn));
        break;
      default:
        acceptHbone(*worker, pod, std::move(conn));
        break;
    }
  });
}

Status DataPlane::addPod(const PodHandover& p) {
  std::shared_lock lock(life_mu_);
  if (!running_) return fail(Error(ErrorCode::kUnavailable, "data path not running"));
  auto netns = ::fcntl(p.netns_fd, F_DUPFD_CLOEXEC, 0);
  if (netns < 0) return fail(WARREN_SYS_ERROR("dup of the pod netns fd"));
  std::string sa = p.service_account.empty() ? "default" : p.service_account;
  auto id = identity::SpiffeId::make(options_.trust_domain, p.namespace_, sa);
  if (!id) return fail(id.error().wrap("pod identity"));
  auto ctx = std::make_shared<PodContext>(*id);
  ctx->uid = p.uid;
  ctx->name = p.name;
  ctx->namespace_ = p.namespace_;
  ctx->service_account = sa;
  ctx->workload_uid = "Kubernetes//Pod/" + p.namespace_ + "/" + p.name;
  ctx->netns = std::make_shared<UniqueFd>(netns);
  std::shared_ptr<const PodContext> pod = ctx;
  for (auto& w : workers_) {
    auto out = duplicate(p.outbound_fd, "15001");
    auto in = duplicate(p.inbound_plain_fd, "15006");
    auto hb = duplicate(p.hbone_fd, "15008");
    if (!out || !in || !hb) return fail(!out ? out.error() : !in ? in.error() : hb.error());
    auto fds = std::make_shared<std::array<UniqueFd, 3>>(
        std::array<UniqueFd, 3>{std::move(*out), std::move(*in), std::move(*hb)});
    Worker* worker = w.get();
    w->loop.post([this, worker, pod, fds] {
      auto& slot = worker->pods[pod->uid];
      slot.pod = pod;
      slot.outbound = std::move((*fds)[0]);
      slot.inbound_plain = std::move((*fds)[1]);
      slot.hbone = std::move((*fds)[2]);
      if (worker->draining) return;
      armAccept(*worker, slot.outbound.get(), pod, kOutbound);
      armAccept(*worker, slot.inbound_plain.get(), pod, kInboundPlain);
      armAccept(*worker, slot.hbone.get(), pod, kHbone);
    });
  }
  return ok();
}

void DataPlane::removePod(const std::string& uid) {
  std::shared_lock lock(life_mu_);
  if (!running_) return;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    w->loop.post([worker, uid] {
      auto it = worker->pods.find(uid);
      if (it == worker->pods.end()) return;
      // Closing through the loop cancels the multishot accepts first.
      for (UniqueFd* fd : {&it->second.outbound, &it->second.inbound_plain, &it->second.hbone})
        if (*fd) worker->loop.close(fd->release());
      worker->pods.erase(it);
    });
  }
}

void DataPlane::onSnapshot() {
  std::shared_lock lock(life_mu_);
  if (!running_) return;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    w->loop.post([worker] { reevaluateInbound(*worker); });
  }
}

void DataPlane::onEveryWorker(const std::function<void(Worker&)>& fn,
                              std::chrono::milliseconds limit) {
  std::vector<std::future<void>> done;
  {
    std::shared_lock lock(life_mu_);
    if (!running_) return;
    for (auto& w : workers_) {
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      Worker* worker = w.get();
      w->loop.post([worker, fn, p] {
        fn(*worker);
        p->set_value();
      });
    }
  }
  // Waited for outside the lock: stop() may run meanwhile; a task it drops breaks its promise,
  // which ends the wait as well.
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (auto& f : done) f.wait_until(deadline);
}

nlohmann::json DataPlane::connections() {
  // Shared with the worker tasks: a worker that answers after the limit writes into it safely.
  struct Gathered {
    std::mutex mu;
    nlohmann::json items = nlohmann::json::array();
  };
  auto g = std::make_shared<Gathered>();
  onEveryWorker(
      [g](Worker& w) {
        std::lock_guard lock(g->mu);
        for (auto& [id, c] : w.connections) g->items.push_back(c->toJson());
      },
      std::chrono::seconds(2));
  std::lock_guard lock(g->mu);
  return g->items;
}

size_t DataPlane::connectionCount() {
  auto n = std::make_shared<std::atomic<size_t>>(0);
  onEveryWorker([n](Worker& w) { *n += w.connections.size(); }, std::chrono::seconds(2));
  return *n;
}

void DataPlane::drain(std::chrono::steady_clock::time_point deadline) {
  onEveryWorker(
      [](Worker& w) {
        w.draining = true;
        for (auto& [uid, slot] : w.pods) {
          for (UniqueFd* fd : {&slot.outbound, &slot.inbound_plain, &slot.hbone})
            if (*fd) w.loop.close(fd->release());
        }
        for (auto& [p, weak] : w.servers)
          if (auto c = weak.lock()) c->drain();
      },
      std::chrono::seconds(2));
  while (std::chrono::steady_clock::now() < deadline) {
    size_t open = connectionCount();
    if (open == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  size_t left = connectionCount();
  if (left > 0) spdlog::warn("drain deadline passed with {} connections open", left);
}

}  // namespace warren::ztunnel
