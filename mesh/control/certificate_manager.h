// Keeps one certificate per workload identity that runs on this node (INTEROP §12): fetched
// as soon as an identity is wanted, refreshed at half-life, retried with back-off (1 s
// doubling, capped at 150 s) on failure, and a still-valid certificate is kept while renewal
// fails. Identities come from several sources (ZDS pods, xDS workloads on this node); an
// identity no source wants any more is forgotten.
//
// Readiness is event-driven: whenReady(identity, loop, callback) posts the callback to the
// asking loop as soon as a valid certificate is held (at once, or right after the fetch that
// brings it), so a connection waiting for its pod's first certificate wakes exactly then.
//
// Threading: one thread of its own does every fetch; every other method may be called from
// any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/identity/spiffe_id.h"
#include "common/identity/workload_certificate.h"
#include "mesh/control/backoff.h"
#include "mesh/control/certificate_source.h"

namespace warren::mesh {

class CertificateManager final : public CertificateSource {
 public:
  using Fetcher = std::function<Result<identity::WorkloadCertificate>(const identity::SpiffeId&)>;

  explicit CertificateManager(Fetcher fetch,
                              Backoff::Duration initial_backoff = std::chrono::seconds(1),
                              Backoff::Duration max_backoff = std::chrono::seconds(150));
  ~CertificateManager() override;
  CertificateManager(const CertificateManager&) = delete;
  CertificateManager& operator=(const CertificateManager&) = delete;

  void start();
  void stop();

  // Replaces the identities `source` wants; the manager tracks the union over all sources.
  void setWanted(const std::string& source, const std::set<identity::SpiffeId>& ids);

  // CertificateSource
  CertPtr get(const identity::SpiffeId& id) const override;
  WaitId whenReady(const identity::SpiffeId& id, uring::EventLoop& loop,
                   std::function<void()> ready) override;
  void cancelWait(WaitId id) override { waiters_.cancel(id); }
  void cancelWaits(const uring::EventLoop& loop) override { waiters_.cancelAll(loop); }

  // /config_dump "certificates", one item per identity in the admin API's certificate shape
  // (warrenctl/README.md "GET /api/v1/certificates"; the agent passes it on as is): state
  // Valid|Pending|Expired|Failed, serial, not_before, not_after, next_refresh, last_error,
  // chain (leaf first, then intermediates and roots: subject, uri_san, issuer, serial,
  // validity). Never a key.
  nlohmann::json toJson() const;

  uint64_t fetched() const { return fetched_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  struct Entry {
    identity::SpiffeId id;
    CertPtr cert;
    std::chrono::system_clock::time_point due;
    Backoff backoff;
    std::string last_error;
    bool in_flight = false;
  };
  void run();
  void reconcileLocked();

  Fetcher fetch_;
  Backoff::Duration initial_backoff_, max_backoff_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::set<identity::SpiffeId>> wanted_;  // by source
  std::map<std::string, Entry> entries_;                        // by URI
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<uint64_t> fetched_{0}, failed_{0};
  ReadyWaiters<std::string> waiters_;  // by SPIFFE URI
};

}  // namespace warren::mesh
