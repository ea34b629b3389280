// CertificateSource: where the data path gets workload certificates. An interface so the
// data path can be built over any source: the CertificateManager (fetching from the node's CA)
// in production and in the in-process data-path tier (there with a test CA behind it).
#pragma once

#include <functional>
#include <memory>

#include "common/identity/spiffe_id.h"
#include "common/identity/workload_certificate.h"
#include "common/uring/event_loop.h"
#include "mesh/state/ready_waiters.h"

namespace warren::mesh {

class CertificateSource {
 public:
  using CertPtr = std::shared_ptr<const identity::WorkloadCertificate>;

  virtual ~CertificateSource() = default;
  // The current certificate for `id`; null when none is held yet or it expired.
  virtual CertPtr get(const identity::SpiffeId& id) const = 0;
  // Runs `ready` on `loop` once a valid certificate for `id` is held: posted at once when one
  // is, else by whatever brings it. Cancel with cancelWait when the caller stops waiting.
  virtual WaitId whenReady(const identity::SpiffeId& id, uring::EventLoop& loop,
                           std::function<void()> ready) = 0;
  virtual void cancelWait(WaitId id) = 0;
  // Drops every wait registered from `loop` (before it stops).
  virtual void cancelWaits(const uring::EventLoop& loop) = 0;
};

}  // namespace warren::mesh
