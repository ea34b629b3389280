// ReadyWaiters: callbacks waiting for something to become ready (a workload's certificate, a
// pod's workload in the state), each posted to the event loop that registered it. This is how
// the data path waits instead of polling: "fired on the loop that asked, by the thing that
// changes" (the certificate manager after a fetch, the snapshot store after a publish).
//
// Thread-safe. Each waiter runs at most once: it is removed under one mutex when it fires or
// is cancelled, whichever comes first, and it is posted while that mutex is held, so once
// cancelAll(loop) returns nothing more is posted to `loop` (a worker calls it before its loop
// goes away).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "common/uring/event_loop.h"

namespace warren::mesh {

using WaitId = uint64_t;  // 0 never names a waiter

template <class Key>
class ReadyWaiters {
 public:
  // Registers `ready` to run on `loop` when `key` becomes ready.
  WaitId add(Key key, uring::EventLoop& loop, std::function<void()> ready) {
    std::lock_guard lock(mu_);
    WaitId id = ++next_;
    waiters_.emplace(id, Waiter{std::move(key), &loop, std::move(ready)});
    return id;
  }

  // Fires one waiter now: the owner found its key ready just after add() (a publish between
  // the owner's check and add() cannot be missed this way). A no-op when it already fired or
  // was cancelled.
  void fireOne(WaitId id) {
    std::lock_guard lock(mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    it->second.loop->post(std::move(it->second.ready));
    waiters_.erase(it);
  }

  // Fires every waiter whose key satisfies `ready(key)`.
  template <class Pred>
  void fireIf(Pred ready) {
    std::lock_guard lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (ready(it->second.key)) {
        it->second.loop->post(std::move(it->second.ready));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Fires every waiter of `key`.
  void fire(const Key& key) {
    fireIf([&](const Key& k) { return k == key; });
  }

  // Removes a waiter without running it (its deadline passed). Unknown ids are ignored.
  void cancel(WaitId id) {
    std::lock_guard lock(mu_);
    waiters_.erase(id);
  }

  // Removes every waiter registered from `loop` (the loop is about to stop).
  void cancelAll(const uring::EventLoop& loop) {
    std::lock_guard lock(mu_);
    std::erase_if(waiters_, [&](const auto& w) { return w.second.loop == &loop; });
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
  }

 private:
  struct Waiter {
    Key key;
    uring::EventLoop* loop;
    std::function<void()> ready;
  };
  mutable std::mutex mu_;
  std::map<WaitId, Waiter> waiters_;
  WaitId next_ = 0;
};

// Waits on `loop` until what `subscribe` registered fires, or `limit` passes: exactly one of
// `ready` / `expired` runs, on the loop. `subscribe(fire)` registers `fire` with a
// ReadyWaiters owner (CertificateSource::whenReady, SnapshotStore::whenWorkload) and returns
// its id; `unsubscribe(id)` takes it back at the deadline.
inline void awaitReady(uring::EventLoop& loop, std::chrono::nanoseconds limit,
                       const std::function<WaitId(std::function<void()> fire)>& subscribe,
                       std::function<void(WaitId)> unsubscribe, std::function<void()> ready,
                       std::function<void()> expired) {
  struct State {
    bool settled = false;
    WaitId id = 0;
    uring::OpId timer = 0;
  };
  auto st = std::make_shared<State>();
  uring::EventLoop* l = &loop;
  st->timer = loop.timeout(
      limit, [st, unsubscribe = std::move(unsubscribe), expired = std::move(expired)](int res) {
        if (st->settled || res == -ECANCELED) return;
        st->settled = true;
        unsubscribe(st->id);
        expired();
      });
  st->id = subscribe([st, l, ready = std::move(ready)] {
    if (st->settled) return;
    st->settled = true;
    l->cancel(st->timer);
    ready();
  });
}

}  // namespace warren::mesh
