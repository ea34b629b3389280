#include "mesh/control/certificate_manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/identity/certificate_info.h"

namespace warren::mesh {
namespace {

using SysClock = std::chrono::system_clock;

// One element of "chain" (warrenctl/README.md, GET /api/v1/certificates).
nlohmann::json chainElement(X509* cert) {
  nlohmann::json j = {{"subject", ""}, {"uri_san", ""},    {"issuer", ""},
                      {"serial", ""},  {"not_before", ""}, {"not_after", ""}};
  auto info = identity::inspectCertificate(cert);
  if (!info) return j;
  j["subject"] = info->subject;
  j["uri_san"] = info->uri_sans.empty() ? "" : info->uri_sans.front();
  j["issuer"] = info->issuer;
  j["serial"] = info->serial_hex;
  j["not_before"] = identity::rfc3339(info->not_before);
  j["not_after"] = identity::rfc3339(info->not_after);
  return j;
}

}  // namespace

CertificateManager::CertificateManager(Fetcher fetch, Backoff::Duration initial_backoff,
                                       Backoff::Duration max_backoff)
    : fetch_(std::move(fetch)), initial_backoff_(initial_backoff), max_backoff_(max_backoff) {}

CertificateManager::~CertificateManager() { stop(); }

void CertificateManager::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void CertificateManager::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CertificateManager::setWanted(const std::string& source,
                                   const std::set<identity::SpiffeId>& ids) {
  {
    std::lock_guard lock(mu_);
    wanted_[source] = ids;
    reconcileLocked();
  }
  cv_.notify_all();
}

void CertificateManager::reconcileLocked() {
  std::set<std::string> all;
  for (const auto& [source, ids] : wanted_) {
    for (const auto& id : ids) {
      all.insert(id.uri());
      if (!entries_.contains(id.uri())) {
        entries_.emplace(id.uri(), Entry{id, nullptr, SysClock::now(),
                                         Backoff(initial_backoff_, max_backoff_), "", false});
      }
    }
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!all.contains(it->first) && !it->second.in_flight) {
      spdlog::info("certificate for {} no longer needed", it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

CertificateManager::CertPtr CertificateManager::get(const identity::SpiffeId& id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id.uri());
  if (it == entries_.end() || !it->second.cert) return nullptr;
  if (!it->second.cert->isValidAt(SysClock::now())) return nullptr;
  return it->second.cert;
}

WaitId CertificateManager::whenReady(const identity::SpiffeId& id, uring::EventLoop& loop,
                                     std::function<void()> ready) {
  WaitId w = waiters_.add(id.uri(), loop, std::move(ready));
  // A certificate stored between the caller's get() and add() is seen here.
  if (get(id)) waiters_.fireOne(w);
  return w;
}

void CertificateManager::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = SysClock::now();
    Entry* due = nullptr;
    auto next = now + std::chrono::hours(1);
    for (auto& [uri, e] : entries_) {
      if (e.in_flight) continue;
      if (e.due <= now) {
        due = &e;
        break;
      }
      next = std::min(next, e.due);
    }
    if (!due) {
      cv_.wait_until(lock, next);
      continue;
    }
    due->in_flight = true;
    identity::SpiffeId id = due->id;
    lock.unlock();
    auto result = fetch_(id);
    lock.lock();
    auto it = entries_.find(id.uri());
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    e.in_flight = false;
    now = SysClock::now();
    if (result) {
      ++fetched_;
      e.cert = std::make_shared<const identity::WorkloadCertificate>(std::move(*result));
      // Half-life, but never before half of what is left now: the CA backdates not_before
      // (clock skew), which for a short TTL would put the half-life in the past and turn
      // refreshing into a loop.
      e.due = std::max(e.cert->refreshAt(), now + (e.cert->notAfter() - now) / 2);
      e.backoff.reset();
      e.last_error.clear();
      spdlog::info("certificate for {} issued, serial {}, refresh in {} s", id.uri(),
                   e.cert->info().serial_hex,
                   std::chrono::duration_cast<std::chrono::seconds>(e.due - now).count());
      // Wake whoever waits for it (posted to their loops; after the store above, so a
      // waiter's get() sees it).
      waiters_.fire(id.uri());
    } else {
      ++failed_;
      auto delay = e.backoff.next();
      e.due = now + delay;
      e.last_error = result.error().message();
      if (e.cert && !e.cert->isValidAt(now)) e.cert.reset();
      spdlog::warn("certificate for {}: {} (retry in {} ms{})", id.uri(), e.last_error,
                   delay.count(), e.cert ? ", keeping the valid one" : "");
    }
    reconcileLocked();  // the identity may have been dropped while the fetch ran
  }
}

nlohmann::json CertificateManager::toJson() const {
  std::lock_guard lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  auto now = SysClock::now();
  for (const auto& [uri, e] : entries_) {
    nlohmann::json j = {{"identity", uri},
                        {"serial", ""},
                        {"not_before", ""},
                        {"not_after", ""},
                        {"last_error", e.last_error},
                        {"chain", nlohmann::json::array()}};
    // Valid wins over a failed renewal (the old certificate is still served); Failed is a
    // fetch that failed with nothing to serve; Pending has not been answered yet.
    if (e.cert) {
      j["state"] = e.cert->isValidAt(now) ? "Valid" : "Expired";
      j["serial"] = e.cert->info().serial_hex;
      j["not_before"] = identity::rfc3339(e.cert->notBefore());
      j["not_after"] = identity::rfc3339(e.cert->notAfter());
      j["chain"].push_back(chainElement(e.cert->leaf()));
      for (const auto& c : e.cert->intermediates()) j["chain"].push_back(chainElement(c.get()));
      for (const auto& c : e.cert->roots()) j["chain"].push_back(chainElement(c.get()));
    } else {
      j["state"] = e.last_error.empty() ? "Pending" : "Failed";
    }
    j["next_refresh"] = identity::rfc3339(e.due);
    j["fetching"] = e.in_flight;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace warren::mesh
