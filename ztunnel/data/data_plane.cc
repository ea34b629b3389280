#include "ztunnel/data/data_plane.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "mesh/worker_loops.h"

namespace warren::ztunnel {
namespace {

Result<UniqueFd> duplicate(int fd, const char* what) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return fail(WARREN_SYS_ERROR(fmt::format("dup of the {} listener", what)));
  return UniqueFd(d);
}

}  // namespace

DataPlane::DataPlane(DataPlaneOptions options, const mesh::SnapshotStore& store,
                     mesh::CertificateSource& certs, DataPathMetrics metrics,
                     std::shared_ptr<DataPathSockets> sockets)
    : options_(std::move(options)),
      store_(store),
      certs_(certs),
      metrics_(metrics),
      sockets_(std::move(sockets)) {}

DataPlane::~DataPlane() { stop(); }

Status DataPlane::start() {
  auto lo = mesh::workerLoopOptions(options_.backend);
  if (!lo) return fail(lo.error());
  unsigned n = uring::WorkerThreads::count(options_.workers);
  workers_.resize(n);
  Worker::PostToWorker post;
  if (n > 1) {
    post = [this](unsigned to, std::function<void(Worker&)> task) {
      return postToWorker(to, std::move(task));
    };
  }
  std::mutex mu;
  auto threads = uring::WorkerThreads::start(
      n, *lo,
      [this, &mu, n, &post](uring::EventLoop& loop, unsigned i) -> Status {
        std::lock_guard lock(mu);
        workers_[i] = std::make_unique<Worker>(
            i, loop, store_, certs_, *sockets_, options_, metrics_, [this] { return ++next_id_; },
            n, post);
        if (i == 0) backend_ = loop.describe();
        return ok();
      },
      [this](uring::EventLoop&, unsigned i) {
        // On the worker's own thread, after its loop stopped: close everything it owns while
        // the loop still exists (closes go through it).
        workers_[i]->shutdown();
      });
  if (!threads) return fail(threads.error().wrap("starting the data-path workers"));
  {
    std::unique_lock lock(life_mu_);
    threads_ = std::move(*threads);
    running_ = true;
  }
  spdlog::info("data path: {} workers, {}", n, backend_);
  return ok();
}

void DataPlane::stop() {
  // Exclusive: a control thread (xDS, ZDS, admin) posting right now finishes first, and every
  // later one sees running_ false; the loops are never posted to while they stop or are gone.
  std::unique_lock lock(life_mu_);
  running_ = false;
  if (threads_) threads_->stop();  // joins; each worker cleans up in its exit hook
  threads_.reset();
  workers_.clear();
}

Status DataPlane::addPod(const std::shared_ptr<const EnrolledPod>& pod,
                         const PodListeners& listeners) {
  std::shared_lock lock(life_mu_);
  if (!running_) return fail(Error(ErrorCode::kUnavailable, "data path not running"));
  if (listeners.sets.size() != workers_.size()) {
    return fail(Error::invalid(
        fmt::format("{} listener sets for {} workers", listeners.sets.size(), workers_.size())));
  }
  // Every duplicate first, so a failure posts nothing.
  std::vector<std::shared_ptr<ListenerSet>> copies;
  for (const auto& set : listeners.sets) {
    auto copy = std::make_shared<ListenerSet>();
    for (size_t k = 0; k < set.size(); ++k) {
      auto d = duplicate(set[k].get(), listenerPortName(static_cast<ListenerKind>(k)));
      if (!d) return fail(d.error());
      (*copy)[k] = std::move(*d);
    }
    copies.push_back(std::move(copy));
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    threads_->loop(i).post(
        [worker, pod, fds = copies[i]] { worker->addPod(pod, std::move(*fds)); });
  }
  return ok();
}

void DataPlane::removePod(const std::string& uid) {
  std::shared_lock lock(life_mu_);
  if (!running_) return;
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    threads_->loop(i).post([worker, uid] { worker->removePod(uid); });
  }
}

void DataPlane::onSnapshot() {
  std::shared_lock lock(life_mu_);
  if (!running_) return;
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    threads_->loop(i).post([worker] { worker->onSnapshot(); });
  }
}

bool DataPlane::postToWorker(unsigned to, std::function<void(Worker&)> task) {
  std::shared_lock lock(life_mu_, std::try_to_lock);
  if (!lock.owns_lock() || !running_ || to >= workers_.size()) return false;
  Worker* worker = workers_[to].get();
  threads_->loop(to).post([worker, task = std::move(task)] { task(*worker); });
  return true;
}

void DataPlane::onEveryWorker(const std::function<void(Worker&)>& fn,
                              std::chrono::milliseconds limit) {
  std::vector<std::future<void>> done;
  {
    std::shared_lock lock(life_mu_);
    if (!running_) return;
    for (size_t i = 0; i < workers_.size(); ++i) {
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      Worker* worker = workers_[i].get();
      threads_->loop(i).post([worker, fn, p] {
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
        auto items = w.connections();
        std::lock_guard lock(g->mu);
        for (auto& item : items) g->items.push_back(std::move(item));
      },
      std::chrono::seconds(2));
  std::lock_guard lock(g->mu);
  return g->items;
}

size_t DataPlane::connectionCount() { return stats().connections; }

uring::LoopStats DataPlane::loopCounters() {
  std::shared_lock lock(life_mu_);
  return running_ ? mesh::sumLoopCounters(*threads_) : uring::LoopStats{};
}

Worker::Stats DataPlane::stats() {
  struct Gathered {
    std::mutex mu;
    Worker::Stats sum;
  };
  auto g = std::make_shared<Gathered>();
  onEveryWorker(
      [g](Worker& w) {
        auto s = w.stats();
        std::lock_guard lock(g->mu);
        g->sum.connections += s.connections;
        g->sum.client_connections += s.client_connections;
        g->sum.server_connections += s.server_connections;
        g->sum.buffered_bytes += s.buffered_bytes;
        g->sum.tracked_streams += s.tracked_streams;
        g->sum.loop_operations += s.loop_operations;
        g->sum.loop_wakeups += s.loop_wakeups;
        g->sum.quiet_sends += s.quiet_sends;
        g->sum.quiet_sends_late += s.quiet_sends_late;
      },
      std::chrono::seconds(2));
  std::lock_guard lock(g->mu);
  return g->sum;
}

void DataPlane::drain(std::chrono::steady_clock::time_point deadline) {
  onEveryWorker([](Worker& w) { w.drain(); }, std::chrono::seconds(2));
  while (std::chrono::steady_clock::now() < deadline) {
    if (connectionCount() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  size_t left = connectionCount();
  if (left > 0) spdlog::warn("drain deadline passed with {} connections open", left);
}

}  // namespace warren::ztunnel
