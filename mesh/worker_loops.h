// The event-loop options of the mesh proxies' data-path workers (warren-ztunnel's DataPlane,
// warren-waypoint's workers): one place, so both proxies size their loops alike; and the
// data-path /metrics families both export alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/metrics/exposition.h"
#include "common/tls/kernel_tls.h"
#include "common/tls/record_layer.h"
#include "common/uring/event_loop.h"
#include "common/uring/worker_threads.h"

namespace warren::mesh {

// Receive buffers in each worker loop's provided-buffer ring. Their size bounds every receive,
// and on the sending side of a tunnel one receive from the app becomes one send: 16 KiB
// receives made one TLS record per send and one ~16 KiB TCP segment train per record, three
// times the skbs and five times the ACKs per byte of an haproxy pair. 64 KiB receives carry four
// DATA frames; the TLS engine's 64 KiB output sends three full records at a time (one ~49 KB
// skb): one bulk stream went from 0.89x to ~1.5x haproxy in one lab (bench/README, 2026-12-05,
// evening; mesh/README "Frames fill records").
// A buffer goes back to the ring as soon as its completion is handled, so the ring only has to
// hold what arrives while the loop works through one batch (more and a receive waits for the
// next batch: -ENOBUFS, re-armed). The kernel takes the buffers in ring order, so bulk traffic
// soon touches every one of them (LoopOptions' 256 x 16 KiB added 4 MiB of RSS per worker for
// good); a small message touches one page of its buffer. 16 x 64 KiB: 1 MiB per worker, what
// 64 x 16 KiB held. 32 x 64 KiB measured the same on bulk and added 2 MiB to the ztunnel's RSS
// growth at 1000 req/s in the bench (8.3 MB against the 8 MB goal).
inline constexpr size_t kRecvBufferBytes = 64 * 1024;
inline constexpr unsigned kRecvBuffersPerWorker = 16;

// `pinned`: that backend or nothing (no epoll fallback); else WARREN_IO_BACKEND, io_uring by
// default, epoll when io_uring cannot be set up.
inline Result<uring::LoopOptions> workerLoopOptions(std::optional<uring::Backend> pinned) {
  uring::LoopOptions lo;
  lo.recv_buffer_count = kRecvBuffersPerWorker;
  lo.recv_buffer_size = kRecvBufferBytes;
  if (pinned) {
    lo.backend = *pinned;
    lo.fallback_to_epoll = false;
    return lo;
  }
  auto backend = uring::backendFromEnvironment();
  if (!backend) return fail(backend.error());
  lo.backend = *backend;
  return lo;
}

// The workers' loop counters, summed, read from the calling thread (EventLoop::counters()): a
// scrape never waits for a busy loop, and never skips one (a sum that left out a worker that
// did not answer in time stepped back).
inline uring::LoopStats sumLoopCounters(uring::WorkerThreads& threads) {
  uring::LoopStats sum;
  for (unsigned i = 0; i < threads.size(); ++i) {
    uring::LoopStats s = threads.loop(i).counters();
    sum.quiet_sends += s.quiet_sends;
    sum.quiet_sends_late += s.quiet_sends_late;
    sum.enobufs_rearms += s.enobufs_rearms;
  }
  return sum;
}

// Those counters as /metrics families: warren_<proxy>_loop_quiet_sends_total,
// warren_<proxy>_loop_quiet_sends_late_total and warren_<proxy>_loop_recv_buffers_ran_out_total.
inline std::vector<metrics::FamilySnapshot> workerLoopFamilies(const std::string& proxy,
                                                               const uring::LoopStats& sum) {
  using metrics::MetricType;
  return {metrics::scalarFamily("warren_" + proxy + "_loop_quiet_sends_total",
                                "sends the worker loops slept through: they completed inside the "
                                "io_uring_enter that submitted them and nothing waited for them "
                                "(common/uring/README.md)",
                                MetricType::kCounter, double(sum.quiet_sends)),
          metrics::scalarFamily("warren_" + proxy + "_loop_quiet_sends_late_total",
                                "quiet sends that found the socket buffer full and completed "
                                "later (each may have held its loop's wait up to "
                                "quiet_send_wait, 5 ms)",
                                MetricType::kCounter, double(sum.quiet_sends_late)),
          metrics::scalarFamily("warren_" + proxy + "_loop_recv_buffers_ran_out_total",
                                "receives the kernel ended because the worker's provided-buffer "
                                "ring was empty (-ENOBUFS), re-armed: how often the ring's "
                                "buffers per worker were too few for one batch",
                                MetricType::kCounter, double(sum.enobufs_rearms))};
}

// The process's HBONE TLS records: whether its connections offer them to the kernel (kTLS,
// --kernel-tls), and how the offers went: warren_<proxy>_kernel_tls_enabled and
// warren_<proxy>_kernel_tls_total{result="installed|unavailable|failed"}; and whose AES-GCM
// runs the records kept in user space: warren_<proxy>_tls_record_aead_info{code}.
inline std::vector<metrics::FamilySnapshot> tlsRecordFamilies(const std::string& proxy) {
  const tls::KernelTlsCounts k = tls::kernelTlsCounts();
  return {metrics::scalarFamily("warren_" + proxy + "_kernel_tls_enabled",
                                "1: HBONE connections offer their TLS records to the kernel after "
                                "the handshake (--kernel-tls auto and the kernel has the TLS ULP); "
                                "0: --kernel-tls off, a kernel without the TLS ULP (checked before "
                                "the first connection), or one that refused an offer",
                                metrics::MetricType::kGauge, tls::kernelTlsWanted() ? 1.0 : 0.0),
          {"warren_" + proxy + "_kernel_tls_total",
           "HBONE connections offered to the kernel's TLS record layer after the handshake: "
           "installed (the kernel seals and opens the records), unavailable (nothing changed: the "
           "kernel refused the ULP, a version or a cipher, which stops later offers, or it has no "
           "cipher for the suite), failed (half installed: the connection was closed)",
           metrics::MetricType::kCounter,
           {{"", {{"result", "installed"}}, double(k.installed)},
            {"", {{"result", "unavailable"}}, double(k.unavailable)},
            {"", {{"result", "failed"}}, double(k.failed)}}},
          {"warren_" + proxy + "_tls_record_aead_info",
           "1, labelled with whose AES-128-GCM seals and opens the records in user space (without "
           "kTLS): vaes-avx512 (Warren's own, common/tls/aes128_gcm.h, on a CPU with VAES, "
           "VPCLMULQDQ and AVX-512) or openssl (any other CPU, or WARREN_TLS_AEAD=openssl)",
           metrics::MetricType::kGauge,
           {{"", {{"code", tls::bestAeadCodeName()}}, 1.0}}}};
}

}  // namespace warren::mesh
